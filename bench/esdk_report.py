#!/usr/bin/env python3
"""The "Encryption SDK throughput" section of BENCHMARKS.md, from bench/esdk's esdk.jsonl.

Every number comes from that file; ratios are between rows of the same run. Goals (issue 5): the unsigned
committing suite at >= 65% of openssl's single-core AES-256-GCM rate, >= 20x the Python aws-encryption-sdk,
and a 4 GiB round trip with peak memory under 64 MiB.
Usage alone: esdk_report.py OUT_DIR/esdk.jsonl
"""
import json
import sys
from pathlib import Path

UNSIGNED, SIGNED = "0x0478", "0x0578"
SUITE_NAMES = {UNSIGNED: "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", SIGNED: "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"}
RSS_GOAL_MIB = 64
FULL_ROUNDTRIP = 4 << 30


def _verdict(ok):
    return "**met**" if ok else "**not met**"


def _mib(kb):
    return f"{kb / 1024:.1f} MiB"


def esdk_section(path):
    """Markdown lines for the section; empty when the file has no rows."""
    rows = [json.loads(l) for l in Path(path).read_text().splitlines() if l.strip()]
    if not rows:
        return []

    def find(**kw):
        return next((r for r in rows if all(r.get(k) == v for k, v in kw.items())), None)

    ossl = find(kind="openssl")
    quick = (find(kind="meta") or {}).get("quick", False)
    out = ["## Encryption SDK throughput", ""]
    out.append("`trent encrypt` / `trent decrypt` (raw AES-256 wrapping key, frame length 4096) against "
               "`openssl speed` (AES-256-GCM, one core, 16 KiB blocks) and the Python aws-encryption-sdk "
               "on the same machine in the same run. MB = 10^6 bytes of plaintext; the input is in the "
               "page cache and the throughput rows write to /dev/null; the round trip goes through files on disk "
               "(temporary file, fsync, rename). Each `trent` process includes its start-up (aws-lc seeds its "
               "random generator for encryption: tens of milliseconds, visible on small inputs). Raw: `esdk.jsonl`.")
    load = (find(kind="meta") or {}).get("loadavg_start")
    if load:
        out[-1] += f" Load average (1/5/15 min) when it started: {load}."
    if quick:
        out.append("")
        out.append("Smoke run (`bench/run --quick`): 64 MiB inputs, where each process's fixed start-up cost weighs "
                   "heavily; no goal is claimed from it.")
    out.append("")
    out.append("| what | MB/s | vs openssl 1 core | vs Python | peak RSS | command |")
    out.append("|---|---|---|---|---|---|")
    for r in rows:
        if r.get("kind") != "esdk":
            continue
        py = find(kind="esdk", tool="python", op=r["op"])
        vs_ossl = f"{100 * r['mb_s'] / ossl['mb_s']:.0f}%" if ossl else "–"
        vs_py = f"{r['mb_s'] / py['mb_s']:.1f}×" if py and r["tool"] == "trent" else "–"
        size = f"{r['bytes'] / 2**20:.0f} MiB"
        out.append(f"| {r['tool']} {r['op']} {r['suite']}, {size} | {r['mb_s']:,.1f} | {vs_ossl} | {vs_py} | "
                   f"{_mib(r['peak_rss_kb'])} | `{r['cmd']}` |")
    if ossl:
        out.append(f"| openssl AES-256-GCM, 16384-byte blocks | {ossl['mb_s']:,.1f} | 100% | – | – | `{ossl['cmd']}` |")
    rt = find(kind="roundtrip")
    if rt:
        size = f"{rt['bytes'] / 2**30:.2f} GiB" if rt["bytes"] >= 1 << 30 else f"{rt['bytes'] / 2**20:.0f} MiB"
        for op in ["encrypt", "decrypt"]:
            mbs = rt["bytes"] / rt[f"{op}_seconds"] / 1e6
            out.append(f"| round trip {size} through files: {op} ({SIGNED}) | {mbs:,.1f} | – | – | "
                       f"{_mib(rt[f'{op}_peak_rss_kb'])} | `{rt[f'{op}_cmd']}` |")
    out.append("")
    for r in rows:
        if r.get("kind") == "skip":
            out.append(f"- Skipped {r['name']}: {r['reason']}.")

    def claim(ok):
        return "not claimed (smoke run)" if quick else _verdict(ok)

    goals = []
    enc_u, dec_u = find(kind="esdk", tool="trent", op="encrypt", suite=UNSIGNED), find(kind="esdk", tool="trent", op="decrypt", suite=UNSIGNED)
    if ossl and enc_u and dec_u:
        lo = min(enc_u["mb_s"], dec_u["mb_s"]) / ossl["mb_s"]
        goals.append(f"Unsigned committing suite ({SUITE_NAMES[UNSIGNED]}) at ≥ 65% of openssl's single-core "
                     f"AES-256-GCM: encrypt {100 * enc_u['mb_s'] / ossl['mb_s']:.0f}%, decrypt "
                     f"{100 * dec_u['mb_s'] / ossl['mb_s']:.0f}% of {ossl['mb_s']:,.0f} MB/s: {claim(lo >= 0.65)}.")
    py_e, py_d = find(kind="esdk", tool="python", op="encrypt"), find(kind="esdk", tool="python", op="decrypt")
    if py_e and py_d and enc_u and dec_u:
        ratios = [enc_u["mb_s"] / py_e["mb_s"], dec_u["mb_s"] / py_d["mb_s"]]
        goals.append(f"At least 20× the Python aws-encryption-sdk {py_e.get('version', '')} (same suite and frame length): "
                     f"encrypt {ratios[0]:.1f}×, decrypt {ratios[1]:.1f}×: {claim(min(ratios) >= 20)}.")
    if rt:
        worst = max(rt["encrypt_peak_rss_kb"], rt["decrypt_peak_rss_kb"]) / 1024
        full = rt["bytes"] >= FULL_ROUNDTRIP
        claim = _verdict(worst < RSS_GOAL_MIB and rt["match"]) if full else "not claimed (smoke run: not 4 GiB)"
        goals.append(f"A 4 GiB file round-trips through the CLI with peak memory under {RSS_GOAL_MIB} MiB: "
                     f"{rt['bytes'] / 2**20:,.0f} MiB, decrypted file {'identical (sha256)' if rt['match'] else 'DIFFERENT'}, "
                     f"peak RSS {worst:.1f} MiB: {claim}.")
    if goals:
        out.append("Goals of issue 5:")
        out.append("")
        out.extend(f"- {g}" for g in goals)
        out.append("")
    return out


if __name__ == "__main__":
    print("\n".join(esdk_section(sys.argv[1])))
