"""One table of every benchmark figure, each with its side-by-side ratio: results/README.md.

Reads the JSON files the benchmark scripts wrote (``core``, ``migration``, ``memory``,
``scale``, ``model_change``) and links their detailed markdown. Run by ``make bench`` after
the scripts.
"""

from __future__ import annotations

import json
from typing import Any

from _common import results_dir


def load(name: str) -> dict[str, Any] | None:
    path = results_dir() / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt(value: float, unit: str = "") -> str:
    text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return text + unit


def core_rows(c: dict[str, Any]) -> list[str]:
    i, s, r = c["ingest"], c["search"], c["restart"]
    link = "[core](core.md)"
    return [
        f"| ingest docs/s through HTTP vs raw `SentenceTransformer.encode` ({i['docs']} SQuAD"
        f" passages, MiniLM) | {fmt(i['api_ingest_docs_per_s'])} vs"
        f" {fmt(i['raw_encode_one_call_docs_per_s'])} docs/s |"
        f" **{i['ratio_api_vs_raw_one_call']}** | >= 0.9 | {link} |",
        *(
            f"| search {p} through HTTP vs embed + FAISS in-process ({s['queries']} queries)"
            f" | {fmt(s[f'http_{p}_ms'])} vs {fmt(s[f'in_process_{p}_ms'])} ms |"
            f" **{s[f'ratio_{p}_http_vs_in_process']}** | {goal} | {link} |"
            if f"http_{p}_ms" in s
            else f"| search {p} through HTTP vs in-process | not in the committed core run"
            f" ({c['started']}) | | {goal} | {link} |"
            for p, goal in (("p50", ""), ("p95", "<= 1.25"), ("p99", ""))
        ),
        f"| start-up replay of {r['replayed_records']:,} log records (no snapshot) vs"
        f" re-encoding their texts | {fmt(r['server_replay_s'], ' s')} vs"
        f" {fmt(r['raw_encode_same_texts_s'], ' s')}, {r['encoded_during_replay']} texts"
        f" re-encoded | **{r['ratio_replay_vs_raw_encode']}** | no re-encoding | {link} |",
        f"| whole restart, replaying the log vs from a snapshot (process start, imports,"
        f" model load) | {fmt(r['restart_replay_all_s'], ' s')} vs"
        f" {fmt(r['restart_from_snapshot_s'], ' s')} |"
        f" {round(r['restart_replay_all_s'] / r['restart_from_snapshot_s'], 3)} | | {link} |",
    ]


def migration_rows(m: dict[str, Any]) -> list[str]:
    re_, lo, s, r = m["reencode_backfill"], m["layout_backfill"], m["shadow"], m["rollback"]
    raw = (re_["raw_encode_docs_per_s_before"] + re_["raw_encode_docs_per_s_after"]) / 2
    link = "[migration](migration.md)"
    rows = [
        f"| backfill docs/s, full re-encode (new embedder) vs raw encode of the same texts"
        f" ({re_['docs']} docs, {re_['encoded']} encoded) | {fmt(re_['docs_per_s'])} vs"
        f" {fmt(raw)} docs/s | **{re_['ratio_backfill_vs_raw_encode']}** | | {link} |",
        f"| backfill docs/s, layout-only (`HNSW32,Flat`, {lo['encoded']} encoded) vs full"
        f" re-encode | {fmt(lo['docs_per_s'])} vs {fmt(re_['docs_per_s'])} docs/s |"
        f" **{m['ratio_layout_vs_reencode_backfill']}** | | {link} |",
    ]
    rows += [
        f"| served p95 with shadow reads at 100% vs off ({s['queries_per_setting']} queries"
        f" each) | {fmt(s['on']['p95_ms'])} vs {fmt(s['off']['p95_ms'])} ms |"
        f" **{s['ratio_p95_on_vs_off']}** | <= 1.05 | {link} |",
        f"| rollback: command sent to routing flipped ({r['cycles']} cycles) | p50"
        f" {fmt(r['p50_ms'])} ms, p99 {fmt(r['p99_ms'])} ms | p99 / 50 ms goal:"
        f" **{round(r['p99_ms'] / 50, 3)}** | p99 < 50 ms | {link} |",
    ]
    return rows


def dual_write_rows(d: dict[str, Any]) -> list[str]:
    rows = []
    for name, label in (("layout", "layout-only target"), ("reencode", "new-embedder target")):
        for size in (1, 32):
            row = d[name][f"batch_{size}"]
            dual, single = row["dual"], row["single"]
            rows.append(
                f"| write latency p50 / p95, batches of {size}: dual-write to a {label} vs the"
                f" source alone (same server, alternating blocks) | {fmt(dual['p50_ms'])} /"
                f" {fmt(dual['p95_ms'])} vs {fmt(single['p50_ms'])} / {fmt(single['p95_ms'])}"
                f" ms | **{row['ratio_p50_dual_vs_single']} / {row['ratio_p95_dual_vs_single']}**"
                " | | [dual-write](dual_write.md) |"
            )
    for size in (1, 32):
        dual = d["reencode"][f"batch_{size}"]["dual"]["p50_ms"]
        single = d["layout"][f"batch_{size}"]["single"]["p50_ms"]
        rows.append(
            f"| write latency p50, batches of {size}: dual-write to a new-embedder target vs"
            f" the layout-only server's single-index blocks (closer to migration-free) |"
            f" {fmt(dual)} vs {fmt(single)} ms | **{round(dual / single, 3)}** | |"
            " [dual-write](dual_write.md) |"
        )
    return rows


def memory_rows(mem: dict[str, Any]) -> list[str]:
    return [
        f"| memory per {mem['vectors']:,} vectors (384-d), {r['layout']}: RSS growth vs raw"
        f" vector bytes | {fmt(r['rss_growth_mib'], ' MiB')} vs"
        f" {fmt(r['raw_vector_mib'], ' MiB')} ({fmt(r['rss_growth_after_malloc_trim_mib'])}"
        f" MiB after `malloc_trim`: {r['ratio_trimmed_vs_raw']}) |"
        f" **{r['ratio_growth_vs_raw']}** | | [memory](memory.md) |"
        for r in mem["layouts"]
    ]


def scale_rows(sc: dict[str, Any]) -> list[str]:
    link = "[scale](scale.md)"
    sizes = {s["docs"]: s for s in sc["sizes"]}
    rows = []
    for g in sc["growth"]:
        small, big = sizes[g["from"]], sizes[g["to"]]
        step = f"{g['from']:,} -> {g['to']:,} docs"
        for key, label in (("search_flat", "Flat"), ("search_ivf", "IVF256 nprobe 8")):
            rows.append(
                f"| search p50 / p95 / p99, {label}, {step} |"
                f" {fmt(small[key]['p50_ms'])} / {fmt(small[key]['p95_ms'])} /"
                f" {fmt(small[key]['p99_ms'])} -> {fmt(big[key]['p50_ms'])} /"
                f" {fmt(big[key]['p95_ms'])} / {fmt(big[key]['p99_ms'])} ms |"
                f" **{g[f'{key}_p50_ms']} / {g[f'{key}_p95_ms']} / {g[f'{key}_p99_ms']}** |"
                f" | {link} |"
            )
        if "backfill_ivf_seconds" not in g:
            rows.append(
                f"| layout-only backfill time and start-up replay time, {step} | not measured"
                " (search only at this size) | | | " + link + " |"
            )
            continue
        rows.append(
            f"| layout-only backfill time (`Flat` -> `IVF256,Flat`), {step} |"
            f" {fmt(small['backfill_ivf']['seconds'], ' s')} ->"
            f" {fmt(big['backfill_ivf']['seconds'], ' s')} |"
            f" **{g['backfill_ivf_seconds']}** | | {link} |"
        )
        rows.append(
            f"| start-up replay time (Flat, whole log, cached vectors), {step} |"
            f" {fmt(small['restart']['replay_seconds'], ' s')} ->"
            f" {fmt(big['restart']['replay_seconds'], ' s')} | **{g['replay_seconds']}** |"
            f" | {link} |"
        )
    rows.extend(
        f"| ingest docs/s through `Switchover.upsert` vs raw hash encode, {i['docs']:,} docs"
        f" | {fmt(i['docs_per_s'])} vs {fmt(i['raw_encode_docs_per_s'])} docs/s |"
        f" **{i['ratio_ingest_vs_raw_encode']}** | | {link} |"
        for i in sc.get("ingest", [])
    )
    policy = sc.get("snapshot_policy")
    if policy:
        rows.append(
            f"| bulk-load docs/s, default periodic snapshots ({_cadence(policy)}) vs"
            f" deferred, {policy['docs']:,}"
            f" docs | {fmt(policy['default_policy']['docs_per_s'])} vs"
            f" {fmt(policy['deferred']['docs_per_s'])} docs/s"
            f" ({policy['default_policy']['periodic_snapshots']} snapshots) |"
            f" **{policy['ratio_default_vs_deferred_docs_per_s']}** | | {link} |"
        )
    return rows


def model_change_rows(mc: dict[str, Any]) -> list[str]:
    link = "[model change](model_change.md)"
    judged, enc = mc["quality"]["judged"], mc["quality"]["encode_docs_per_s"]
    rows = []
    for target, by_truth in judged.items():
        q, k, x = by_truth["qrels"], by_truth["known-item"], by_truth["minilm-exact"]
        rows.append(
            f"| MiniLM -> {target}: recall@10 delta against qrels / known-item / MiniLM's own"
            f" top 10 | {q['delta']:+.3f} ({q['decision']}) / {k['delta']:+.3f}"
            f" ({k['decision']}) / {x['delta']:+.3f} ({x['decision']}) | | | {link} |"
        )
    rows.append(
        f"| encode docs/s in-process, MiniLM int8 vs fp32 | {fmt(enc['minilm-int8'])} vs"
        f" {fmt(enc['minilm'])} | **{enc['minilm-int8'] / enc['minilm']:.2f}** | | {link} |"
    )
    for target, r in (mc.get("served") or {}).items():
        raw = (r["raw_docs_per_s_before"] + r["raw_docs_per_s_after"]) / 2
        rows.append(
            f"| re-encoding backfill to {target} vs raw encode of the same texts |"
            f" {fmt(r['backfill_docs_per_s'])} vs {fmt(raw)} docs/s |"
            f" **{r['ratio_backfill_vs_raw']}** | >= 0.95 | {link} |"
        )
        lat = r.get("query_latency")
        if lat:
            rows.append(
                f"| query p50 / p95 through HTTP, MiniLM int8 vs fp32 |"
                f" {fmt(lat['int8']['p50_ms'])} / {fmt(lat['int8']['p95_ms'])} vs"
                f" {fmt(lat['fp32']['p50_ms'])} / {fmt(lat['fp32']['p95_ms'])} ms |"
                f" **{lat['p50_ratio']} / {lat['p95_ratio']}** | | {link} |"
            )
    return rows


def _cadence(policy: dict[str, Any]) -> str:
    if "snapshot_growth_fraction" not in policy:  # before the cadence grew with the index
        return f"every {policy['snapshot_every_records']:,} records"
    return (
        f"after max({policy['snapshot_every_records']:,} records,"
        f" {policy['snapshot_growth_fraction']:g} x the index), >="
        f" {policy['snapshot_gap_factor']:g} x the last one's duration apart"
    )


def main() -> None:
    names = ("core", "migration", "dual_write", "memory", "scale", "model_change", "run")
    found = {name: load(name) for name in names}
    lines = [
        "# Benchmark results",
        "",
        "Every figure is a ratio of two measurements taken side by side in one run (interleaved"
        " or in alternating blocks where the two can be measured together), on a shared 2-core"
        " machine. `make bench` regenerates this file; the detailed tables are linked in the"
        " last column ([decision quality](decision_quality.md) has the recall judgement's"
        " fail / pass / hold counts).",
        "",
    ]
    run = found["run"]
    if run:
        how = (
            'assembled from partial runs (`make bench BENCH_ARGS="--only ..."`; the last:'
            f" {', '.join(run['partial_runs'][-1])})"
            if run.get("partial_runs")
            else "one run"
        )
        lines += [
            f"Last `make bench`: {how}, first started {run['started']}; script times"
            f" {run['minutes']} min in all ("
            + ", ".join(f"{k} {v['minutes']} min" for k, v in run["scripts"].items())
            + "). Scripts not listed kept their earlier results.",
            "",
        ]
    lines += [
        "| figure | measured | ratio | goal | details |",
        "|---|---|---|---|---|",
    ]
    builders = {
        "core": core_rows,
        "migration": migration_rows,
        "dual_write": dual_write_rows,
        "memory": memory_rows,
        "scale": scale_rows,
        "model_change": model_change_rows,
    }
    missing = []
    for name, build in builders.items():
        data = found[name]
        if data is None:
            missing.append(name)
            continue
        try:
            lines.extend(build(data))
        except KeyError as exc:  # results written by an older version of the script
            missing.append(f"{name} (no {exc} in {name}.json: rerun it)")
    if missing:
        lines += ["", f"Missing results (script failed or not run): {', '.join(missing)}."]
    out = results_dir() / "README.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
