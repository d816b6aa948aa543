/* Wine 8 (Debian 12) has no bcryptprimitives.dll, which Rust's standard library
 * (1.78 and later) imports on Windows for ProcessPrng, the source of HashMap's random
 * keys. Windows 10 and 11 have it; this stand-in fills the gap under Wine with
 * RtlGenRandom (advapi32's SystemFunction036), which Wine does have. Built by run. */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
