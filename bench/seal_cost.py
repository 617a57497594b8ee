"""What sealing the audit trail costs the e-revisit pipeline (issue 15, Benchmark; target: under 10 % fewer
policies a second than without it). Prints figures; not a test.

    .venv/bin/python bench/seal_cost.py [--policies N] [--repeat R] [--workers W]

Runs bench/revisit_pipeline.py (its own MariaDB, Redis, fake Alibaba endpoint and Celery worker each
time) R times each way, alternating (off, on; then on, off; ...), with the same N policies:
  off: AUDIT_ROW_HASH=0, the bench-only switch of app/services/audit.py: events written without row_hash
       (refused under PORTAL_ENV=production, where every event is hashed as written);
  on:  as in production: every event hashed as written, then the seal job (`--seal`) over all the events
       the run wrote, timed apart (it runs off the pipeline, as a beat job every ten minutes).
and prints the end-to-end throughput of each run, the medians, the difference in %, and the hashing's
own share: the CPU time of event_hash over every event the run wrote, against the run's end-to-end time
(the pipeline is set-based and writes few events, so on a shared machine the run-to-run noise is far
larger than the hashing; this share is the figure that does not depend on the load).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIPELINE = os.path.join(ROOT, "bench", "revisit_pipeline.py")
END_TO_END = re.compile(r"END TO END:\s+([\d.]+) s\s+([\d,]+) policies/s")
HASHING = re.compile(r"HASHING: event_hash over the ([\d,]+) events: ([\d.]+) s CPU")


def run(policies, workers, hashing):
    env = {**os.environ, "AUDIT_ROW_HASH": "1" if hashing else "0"}
    env.pop("PORTAL_ENV", None)
    command = [sys.executable, PIPELINE, "--policies", str(policies), "--expiry-tasks", "0",
               "--workers", str(workers)] + (["--seal"] if hashing else [])
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        sys.stdout.write(result.stdout + result.stderr)
        raise SystemExit(f"{PIPELINE} failed ({result.returncode})")
    lines = [line for line in result.stdout.splitlines()
             if line.startswith(("END TO END", "AUDIT", "SEAL", "HASHING", "SMS:"))]
    match = END_TO_END.search(result.stdout)
    hashing_cpu = HASHING.search(result.stdout)
    return (float(match.group(1)), float(match.group(2).replace(",", "")), lines,
            float(hashing_cpu.group(2)) if hashing_cpu else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs each way, alternating off / on")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rates, shares = {False: [], True: []}, []
    for i in range(args.repeat):
        for hashing in ((False, True) if i % 2 == 0 else (True, False)):
            seconds, rate, lines, cpu = run(args.policies, args.workers, hashing)
            rates[hashing].append(rate)
            if cpu is not None:
                shares.append(cpu / seconds * 100)
            print(f"-- run {i + 1}, row hashing {'on' if hashing else 'off'}: {seconds:.2f} s, {rate:,.0f} policies/s")
            for line in lines:
                print("   " + line)
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"WITHOUT HASHING: {off:,.0f} policies/s (runs: {', '.join(f'{r:,.0f}' for r in rates[False])})")
    print(f"WITH HASHING:    {on:,.0f} policies/s (runs: {', '.join(f'{r:,.0f}' for r in rates[True])})")
    print(f"DIFFERENCE:      {(off - on) / off * 100:+.1f} % policies a second fewer with hashing than without "
          f"(negative: the hashing runs were faster; target: under 10 % fewer)")
    print(f"HASHING SHARE:   {max(shares):.3f} % of the end-to-end time at most (event_hash's CPU over every "
          f"event of a run / the run's time; the seal job runs apart)")


if __name__ == "__main__":
    main()
