@echo off
rem snack-shop classroom launcher: opens the shop for the whole class. Double-click it.
rem This file stays ASCII: cmd.exe reads a .bat in the console code page (936 on a
rem Chinese Windows), so the Chinese the teacher reads comes from shop-server.exe.
setlocal
cd /d "%~dp0"
if not exist shop-server.exe goto notunpacked

rem The port students connect to, and the live view's port (on this PC only).
set PORT=9999
set WEB_PORT=9980

rem Today as yyyy-MM-dd, for the ledger's name. %date% depends on the region
rem settings, so PowerShell (part of Windows 10 and 11) is asked instead.
set TODAY=
for /f "usebackq delims=" %%d in (`powershell -NoProfile -NonInteractive -Command "Get-Date -Format yyyy-MM-dd"`) do set "TODAY=%%d"
rem Without PowerShell, one undated ledger, named to sort before the dated ones (the
rem report launcher takes the last name in order).
if not defined TODAY set TODAY=0-undated

rem Open the live view in the default browser as soon as the shop answers (at most 20 s).
start "" /b powershell -NoProfile -NonInteractive -Command "for ($i = 0; $i -lt 40; $i++) { try { (New-Object Net.Sockets.TcpClient '127.0.0.1', %WEB_PORT%).Close(); Start-Process 'http://127.0.0.1:%WEB_PORT%/'; break } catch { Start-Sleep -Milliseconds 500 } }" >nul 2>&1

rem The shop. .ci/dist/check runs this very line under Wine: keep it one line.
shop-server.exe --host 0.0.0.0 --port %PORT% --ledger "ledger-%TODAY%.db" --web 127.0.0.1:%WEB_PORT% --banner

echo.
echo shop-server.exe has ended (exit code %errorlevel%). The ledger is ledger-%TODAY%.db in this folder.
pause
exit /b

:notunpacked
echo shop-server.exe is not in this folder. Unzip the whole zip first (right-click it, Extract All),
echo then double-click this file in the unzipped folder.
pause
