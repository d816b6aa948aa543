@echo off
rem snack-shop report launcher: the newest ledger's sales as a CSV file next to it,
rem then opened (Excel, if installed). Double-click it, during or after the class.
rem This file stays ASCII: cmd.exe reads a .bat in the console code page.
setlocal
cd /d "%~dp0"
if not exist shop-server.exe goto notunpacked

rem The newest ledger: their names sort by date (ledger-yyyy-MM-dd.db).
set LEDGER=
for /f "delims=" %%f in ('dir /b /o:n "ledger-*.db" 2^>nul') do set "LEDGER=%%f"
if not defined LEDGER goto noledger
set "CSV=%LEDGER:.db=.csv%"

rem .ci/dist/check runs these lines under Wine: keep each one line.
shop-server.exe report --ledger "%LEDGER%" --csv --bom > "%CSV%"
if errorlevel 1 goto failed
shop-server.exe report --ledger "%LEDGER%"
if errorlevel 1 goto failed

echo.
echo Written: %CSV% (one row per purchase, for Excel).
echo Opening it...
start "" "%CSV%"
pause
exit /b

:noledger
echo No ledger-*.db in this folder yet: open the class with the classroom launcher first.
pause
exit /b

:failed
echo The report failed: see the message above.
pause
exit /b

:notunpacked
echo shop-server.exe is not in this folder. Unzip the whole zip first (right-click it, Extract All),
echo then double-click this file in the unzipped folder.
pause
