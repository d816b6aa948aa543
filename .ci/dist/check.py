#!/usr/bin/env python3
"""Checks the packages scripts/dist built (issue 21); run by .ci/dist/check.

    check.py --wine WINE ZIP TAR

The zip: one top folder, exactly the expected files, the UTF-8 name flag on Chinese
names, CRLF text, a BOM on 使用说明.txt and goods.toml, ASCII launchers (cmd.exe reads
them in the console code page), .exe files importing only Windows' own DLLs. Then,
unpacked into a fresh folder, the classroom launcher's shop-server line, taken from the
launcher itself so the test cannot drift from it, runs under Wine: a purchase over GBK
from a Linux socket, the dated ledger, the live view's API, the banner; then the report
launcher's lines: the CSV with a BOM. The tar.gz: top folder, modes, files.
"""

import argparse
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

CLASSROOM = "开始上课.bat"
REPORT = "销售报表.bat"
MANUAL = "使用说明.txt"
ZIP_FILES = {"shop-server.exe", "shop-client.exe", "goods.toml", MANUAL, CLASSROOM, REPORT}
TAR_FILES = {"shop-server", "shop-client", "goods.toml", "README.md"}
BOM = b"\xef\xbb\xbf"
# DLLs every Windows 10 and 11 has; api-ms-win-* are API sets of the system itself.
SYSTEM_DLLS = {
    "kernel32.dll", "ntdll.dll", "msvcrt.dll", "user32.dll", "gdi32.dll", "shell32.dll",
    "advapi32.dll", "userenv.dll", "ws2_32.dll", "bcryptprimitives.dll", "bcrypt.dll",
    "iphlpapi.dll", "ole32.dll", "oleaut32.dll", "secur32.dll", "crypt32.dll",
}
# What the manual must tell a teacher, Chinese first (issue 21).
MANUAL_MUST = ["SmartScreen", "仍要运行", "防火墙", "允许访问", "9999", "TCP Client", "GBK",
               "ledger-", "销售报表.bat", "打烊", "Ctrl-C", "goods.toml"]
# How long the shop may take to start under Wine (a cold prefix is slow).
START_WITHIN = 90
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)
        print(f"FAIL {message}", flush=True)


def check_zip(path, version):
    top = f"snack-shop-{version}/"
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        names = {i.filename for i in infos}
        check(all(n.startswith(top) for n in names), f"zip: everything under {top}: {names}")
        check({n[len(top):] for n in names} == ZIP_FILES, f"zip: files {sorted(names)}")
        for info in infos:
            if not info.filename.isascii():
                check(info.flag_bits & 0x800, f"zip: UTF-8 name flag on {info.filename}")
        files = {i.filename[len(top):]: zf.read(i) for i in infos}
    for name, data in files.items():
        if name.endswith((".txt", ".bat", ".toml")):
            check(data.count(b"\n") == data.count(b"\r\n") > 0, f"{name}: CRLF only")
    for name in (MANUAL, "goods.toml"):
        data = files.get(name, b"")
        check(data.startswith(BOM), f"{name}: UTF-8 BOM")
        try:
            data[3:].decode("utf-8")
        except UnicodeDecodeError as e:
            check(False, f"{name}: UTF-8: {e}")
    manual = files.get(MANUAL, b"").decode("utf-8", "replace")
    for word in MANUAL_MUST:
        check(word in manual, f"{MANUAL}: mentions {word}")
    check(0 < manual.find("一、开课") < manual.find("How to use it (English)"),
          f"{MANUAL}: Chinese first, then English")
    for name in (CLASSROOM, REPORT):
        data = files.get(name, b"")
        # ASCII reads the same in code page 936, 437 or 65001: nothing to garble.
        check(data.isascii(), f"{name}: ASCII only")
        check(data.decode("cp936", "replace") == data.decode("ascii", "replace"),
              f"{name}: decodes the same in code page 936")
        check(b'cd /d "%~dp0"' in data, f"{name}: runs in its own folder")
        check(b"\r\npause\r\n" in data, f"{name}: keeps the window open")
    classroom = files.get(CLASSROOM, b"").decode("ascii", "replace")
    check("set PORT=9999" in classroom, f"{CLASSROOM}: port 9999")
    check("Get-Date -Format yyyy-MM-dd" in classroom, f"{CLASSROOM}: dated ledger")
    check("Start-Process 'http://127.0.0.1:%WEB_PORT%/'" in classroom,
          f"{CLASSROOM}: opens the live view")
    return files


def check_imports(folder, objdump):
    for exe in sorted(folder.glob("*.exe")):
        out = subprocess.run([objdump, "-p", str(exe)], capture_output=True, text=True,
                             check=True).stdout
        dlls = {m.lower() for m in re.findall(r"DLL Name: (\S+)", out)}
        check(dlls, f"{exe.name}: objdump lists imports")
        foreign = {d for d in dlls if d not in SYSTEM_DLLS and not d.startswith("api-ms-win-")}
        check(not foreign, f"{exe.name}: imports only system DLLs, not {sorted(foreign)}")
        print(f"ok   {exe.name} imports {sorted(dlls)}")


def check_tar(path, version):
    top = f"snack-shop-{version}/"
    with tarfile.open(path) as tf:
        members = {m.name: m for m in tf.getmembers()}
        check({n[len(top):] for n in members if n.startswith(top)} == TAR_FILES,
              f"tar: files {sorted(members)}")
        for name in ("shop-server", "shop-client"):
            m = members.get(top + name)
            check(m is not None and m.mode & 0o111, f"tar: {name} executable")
        goods = tf.extractfile(top + "goods.toml").read()
        check(b"\r\n" not in goods, "tar: goods.toml with LF")


def bat_lines(text):
    """The launcher's variables (set NAME=VALUE) and its shop-server lines."""
    variables, commands = {}, []
    for line in text.splitlines():
        m = re.fullmatch(r'set "?(\w+)=([^"%]*)"?', line.strip())
        if m:
            variables[m[1]] = m[2]
        if line.startswith("shop-server.exe "):
            commands.append(line)
    return variables, commands


def cmd_split(line, variables):
    """The words of one cmd.exe line, %VAR% expanded, quotes removed, and a `> FILE`."""
    line = re.sub(r"%(\w+)%", lambda m: variables[m[1]], line)
    words = re.findall(r'"[^"]*"|[^\s"]+', line)
    words = [w.strip('"') for w in words]
    output = None
    if ">" in words:
        at = words.index(">")
        output, words = words[at + 1], words[:at]
    return words, output


def lines_of(stream, sink):
    for raw in iter(stream.readline, b""):
        sink.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
    sink.put(None)


def gbk_line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode("gbk").rstrip("\r\n")


def run_classroom(folder, wine, text):
    variables, commands = bat_lines(text)
    check(len(commands) == 1, f"{CLASSROOM}: one shop-server line: {commands}")
    # Free ports for the test (the machine may use 9999); the rest as the launcher has it.
    variables.update(PORT="0", WEB_PORT="0", TODAY=time.strftime("%Y-%m-%d"))
    words, _ = cmd_split(commands[0], variables)
    print(f"run  wine {' '.join(words)}  (in {folder})", flush=True)
    log = open(folder / "server-stderr.log", "wb")
    proc = subprocess.Popen([wine, *words], cwd=folder, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=log)
    out = queue.Queue()
    threading.Thread(target=lines_of, args=(proc.stdout, out), daemon=True).start()
    seen = []
    try:
        deadline = time.monotonic() + START_WITHIN
        while not any(l.startswith("======") for l in seen[4:]):
            line = out.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                break
            seen.append(line)
        print("\n".join("     | " + l for l in seen))
        listen = re.fullmatch(r"listening on 0\.0\.0\.0:(\d+)", seen[0] if seen else "")
        view = re.fullmatch(r"live view on (http://127\.0\.0\.1:\d+/)", seen[1] if len(seen) > 1 else "")
        check(listen, "shop listens on 0.0.0.0")
        check(view, "live view on 127.0.0.1")
        check(any("请告诉学生" in l for l in seen), "banner for the students")
        if not (listen and view):
            return variables
        port = int(listen[1])
        check(any(f"端口 port: {port}" in l for l in seen), "banner gives the port")
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            greeting = gbk_line(sock)
            check("西瓜(2)" in greeting, f"GBK greeting: {greeting!r}")
            sock.sendall("西瓜\n".encode("gbk"))
            reply = gbk_line(sock)
            check(reply == "购买成功,余额 -2", f"GBK purchase: {reply!r}")
            sock.sendall("拜拜\n".encode("gbk"))
            check(gbk_line(sock) == "欢迎下次光临", "GBK goodbye")
        ledger = folder / f"ledger-{variables['TODAY']}.db"
        check(ledger.is_file(), f"ledger {ledger.name} in the folder")
        with urllib.request.urlopen(view[1] + "api/state", timeout=20) as resp:
            state = json.load(resp)
        sold = {i["name"]: i["sold"] for i in state.get("items", [])}
        check(sold.get("西瓜") == 1, f"live view counts the sale: {sold}")
    except queue.Empty:
        check(False, f"the shop did not start within {START_WITHIN} s: {seen}")
    finally:
        # Wine turns SIGINT into the console's Ctrl-C: the shop closes as on Windows.
        proc.send_signal(signal.SIGINT)
        try:
            check(proc.wait(timeout=20) == 0, f"the shop exits 0 on Ctrl-C, not {proc.returncode}")
        except subprocess.TimeoutExpired:
            check(False, "the shop did not close within 20 s of Ctrl-C")
            proc.kill()
            proc.wait()
        log.close()
    stderr = (folder / "server-stderr.log").read_text("utf-8", "replace")
    check("serving 3 items from goods.toml" in stderr,
          f"the shipped goods.toml is the one served; the shop's stderr:\n{stderr}")
    check("西瓜: 卖出 1 件" in stderr and "1 sold" in stderr, f"the sales summary counts the sale:\n{stderr}")
    return variables


def run_report(folder, wine, text):
    variables, commands = bat_lines(text)
    check(len(commands) == 2, f"{REPORT}: two shop-server lines: {commands}")
    # As the launcher's `dir /b /o:n "ledger-*.db"` loop: the last name in order.
    ledgers = sorted(p.name for p in folder.glob("ledger-*.db"))
    check(ledgers, "a ledger to report on")
    if not ledgers:
        return
    variables["LEDGER"] = ledgers[-1]
    variables["CSV"] = ledgers[-1].replace(".db", ".csv")
    for command in commands:
        words, output = cmd_split(command, variables)
        print(f"run  wine {' '.join(words)}" + (f" > {output}" if output else ""), flush=True)
        done = subprocess.run([wine, *words], cwd=folder, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=120)
        check(done.returncode == 0, f"{words}: exit {done.returncode}: {done.stderr[-500:]!r}")
        if output:
            (folder / output).write_bytes(done.stdout)
        else:
            check("西瓜" in done.stdout.decode("utf-8", "replace"), "text report lists 西瓜")
    csv = (folder / variables["CSV"]).read_bytes()
    check(csv.startswith(BOM), "report CSV starts with a UTF-8 BOM")
    rows = csv[len(BOM):].decode("utf-8").splitlines()
    check(rows[:1] == ["time,customer,item,price,counter"], f"CSV header: {rows[:1]}")
    check(any(",西瓜,2," in r for r in rows[1:]), f"CSV rows: {rows[1:]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wine", required=True)
    parser.add_argument("--objdump", default="x86_64-w64-mingw32-objdump")
    parser.add_argument("zip")
    parser.add_argument("tar")
    args = parser.parse_args()
    version = re.search(r"snack-shop-(.+)-windows-x64\.zip$", args.zip)[1]
    files = check_zip(args.zip, version)
    check_tar(args.tar, version)
    scratch = Path(__file__).resolve().parents[2] / "target" / "dist-check"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        with zipfile.ZipFile(args.zip) as zf:
            zf.extractall(tmp)
        folder = Path(tmp) / f"snack-shop-{version}"
        check_imports(folder, args.objdump)
        run_classroom(folder, args.wine, files[CLASSROOM].decode("ascii", "replace"))
        run_report(folder, args.wine, files[REPORT].decode("ascii", "replace"))
    if problems:
        sys.exit(f"dist check: {len(problems)} problem(s)")
    print("dist check: all good")


if __name__ == "__main__":
    main()
