"""The peers table (``benchmarks/results/peers.md``) from one run of ``bench_peers.py``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from _common import REPO, ratio

RAW = 64  # bench_peers.RAW_SAMPLE


def _pip_version(python: Path, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "not installed"


def versions(scratch: Path) -> dict[str, str]:
    here = Path(REPO / ".venv/bin/python")
    main = here if here.exists() else Path("/work/main/.venv/bin/python")
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    out = {"switchover": f"this checkout ({commit})"}
    for package in ("sentence-transformers", "torch", "faiss-cpu", "pgserver", "psycopg"):
        out[package] = _pip_version(main, package)
    out["embedflow"] = _pip_version(scratch / "embedflow-venv/bin/python", "embedflow")
    out["embedflow's torch"] = _pip_version(scratch / "embedflow-venv/bin/python", "torch")
    out["vecshift"] = _pip_version(scratch / "vecshift-venv/bin/python", "vecshift")
    return out


def _lat(results: dict[str, Any], name: str) -> str:
    s = results["search"]
    lat = s["pooled"][name]
    r = s["pooled_ratios"].get(name)
    tail = f" ({r['p50']}x / {r['p95']}x)" if r else ""
    return f"{lat['p50_ms']} / {lat['p95_ms']} ms{tail}"


def _raw(part: dict[str, Any]) -> float:
    before, after = part["raw_encode_docs_per_s"]
    return float(before + after) / 2


def ingest_row(results: dict[str, Any]) -> str:
    raw, sw = results["raw_encode_docs_per_s"], results["switchover_ingest_docs_per_s"]
    return (
        f"| index build / ingest, docs/s (x raw encode) | {raw} (encode, batch 32) |"
        f" {sw} ({ratio(sw, raw)}x), `PUT /v1/documents`, 128 per request |"
        " not measurable: embedflow builds no index, it is pointed at an existing FAISS"
        f" index (here the baseline's own vectors); its server start took"
        f" {results['embedflow_start_seconds']} s |"
        " not measurable: vecshift has no ingest, it migrates an existing pgvector column"
        " (loaded here with `COPY` of the baseline's vectors) |"
    )


def search_row(results: dict[str, Any]) -> str:
    vs = results["vecshift"]["sql_search"]
    sql = vs["pooled"]["vecshift-sql"]
    r = vs["pooled_ratios"]["vecshift-sql"]
    return (
        f"| search p50 / p95 (x raw in-process), own HTTP server, interleaved |"
        f" {_lat(results, 'in-process')} | {_lat(results, 'switchover')} |"
        f" {_lat(results, 'embedflow')} | no HTTP server (vecshift is a migration CLI). For"
        f" reference, SQL on its new column from this process (HNSW, 256 d): {sql['p50_ms']} /"
        f" {sql['p95_ms']} ms ({r['p50']}x / {r['p95']}x an in-process 256 d `Flat`,"
        " interleaved, separate pass) |"
    )


def migration_row(results: dict[str, Any]) -> str:
    sw, ef, vs = (results[k] for k in ("switchover_migration", "embedflow_export", "vecshift"))
    sw_rate = sw["docs"] / sw["wall_seconds"]
    vs_rate = vs["rows"] / vs["seconds"]
    ph, es = vs["phases"], vs["embeddings_server"]
    index_s = round(ph["index_end_s"] - ph["index_start_s"], 2) if ph["index_end_s"] else "?"
    brackets = "; ".join(
        f"{name} {part['raw_encode_docs_per_s'][0]} / {part['raw_encode_docs_per_s'][1]}"
        for name, part in (("switchover", sw), ("embedflow", ef), ("vecshift", vs))
    )
    return (
        f"| re-embedding migration, docs/s (x raw encode of the first {RAW} texts just before"
        f" / just after that migration, mean) | before / after each: {brackets} |"
        f" {round(sw_rate, 2)} ({ratio(sw_rate, _raw(sw))}x) wall, start to backfill finished;"
        f" server's own backfill time {sw['docs_per_s']} docs/s"
        f" ({ratio(sw['docs_per_s'], _raw(sw))}x); MiniLM `truncate_dim` 256, `Flat` |"
        f" {ef['docs_per_s']} ({ratio(ef['docs_per_s'], _raw(ef))}x) wall of `export-target`;"
        f" less its fixed cost ({ef['fixed_seconds']} s: a second run with every vector cached)"
        f" {ef['docs_per_s_without_fixed']}"
        f" ({ratio(ef['docs_per_s_without_fixed'] or 0, _raw(ef))}x);"
        f" 384 d (it has no truncation), FAISS Flat |"
        f" {round(vs_rate, 2)} ({ratio(vs_rate, _raw(vs))}x) wall of `vecshift apply`; of it"
        f" {index_s} s the HNSW build; the /v1/embeddings server's own overhead"
        f" {es['overhead_s']} s ({es['overhead_per_text_ms']} ms/text, {es['requests']} requests)"
        f" besides {es['encode_s']} s of encode; `dims=256` |"
    )


def recall_row(results: dict[str, Any]) -> str:
    rec = results["search"]["recall_at_10"]
    sw = results["switchover_migration"]["recall_at_10_target"]
    vs = results["vecshift"]["sql_search"]["recall_at_10"]
    return (
        f"| recall@10, SQuAD qrels | {rec['in-process']} (384 d); {vs['in-process']}"
        f" (256 d, exact) | {rec['switchover']} (384 d); after the migration, reads on the"
        f" target: {sw} (256 d) | {rec['embedflow']} (source mode, 384 d) |"
        f" {vs['vecshift-sql']} (its new 256 d column, HNSW, SQL) |"
    )


def parts_table(results: dict[str, Any]) -> list[str]:
    head = ["| part | seconds | load avg before | load avg after |", "|---|---:|---|---|"]
    return head + [
        f"| {p['part']} | {p['seconds']} | {p['load_before']} | {p['load_after']} |"
        for p in results["parts"]
    ]


def markdown(results: dict[str, Any]) -> list[str]:
    quick = " --quick" if results["quick"] else ""
    return [
        "# switchover and its peers, side by side",
        "",
        f"Run {results['started']} on {results['machine']}, {results['minutes']} min;"
        f" `make bench-peers` (`python benchmarks/bench_peers.py {results['args']}{quick}`)."
        f" SQuAD dev, {results['docs']} passages, the packaged MiniLM (`all-MiniLM-L6-v2`),"
        f" {results['queries']} seeded questions with their qrels, k = 10 for everyone."
        " The raw baseline is bare `SentenceTransformer.encode` + `faiss.IndexFlatIP` in the"
        " benchmark's process. Every ratio is of two figures from this one run.",
        "",
        "| row | raw baseline | switchover | embedflow | vecshift |",
        "|---|---|---|---|---|",
        ingest_row(results),
        search_row(results),
        migration_row(results),
        recall_row(results),
        "",
        *where_behind(results),
        "",
        "## Machine load per part (/proc/loadavg: 1 / 5 / 15 min)",
        "",
        *parts_table(results),
        "",
        "## Versions",
        "",
        *[f"- {k}: {v}" for k, v in results["versions"].items()],
        "",
        "## Exact commands",
        "",
        *commands(results),
    ]


def where_behind(results: dict[str, Any]) -> list[str]:
    """Every row where switchover is behind a peer, said plainly (filled from the figures)."""
    s = results["search"]["pooled"]
    out = ["## Where switchover is behind", ""]
    out += [
        f"- Search {q[:3]}: switchover {s['switchover'][q]} ms against embedflow"
        f" {s['embedflow'][q]} ms. Both embed one query and search one `Flat` index; the"
        " difference is switchover's HTTP path, profiled in"
        " [search_profile.md](search_profile.md) (about 0.5 ms in the read path, 2 ms in"
        " FastAPI, the middlewares and the thread hand-off, 0.75 ms in HTTP parsing and the"
        " sockets, at load average 2.6); not yet removed."
        for q in ("p50_ms", "p95_ms")
        if s["switchover"][q] > s["embedflow"][q]
    ]
    sw, ef, vs = (results[k] for k in ("switchover_migration", "embedflow_export", "vecshift"))
    sw_x = sw["docs"] / sw["wall_seconds"] / _raw(sw)
    for name, x in (
        ("embedflow export-target", ef["docs_per_s"] / _raw(ef)),
        ("vecshift apply", vs["rows"] / vs["seconds"] / _raw(vs)),
    ):
        if x > sw_x:
            out.append(
                f"- Re-embedding: {name} ran at {round(x, 3)}x its raw-encode baseline against"
                f" switchover's {round(sw_x, 3)}x (the encoder is the same MiniLM). Not profiled"
                " in this run; on a machine this loaded the bracketing raw encodes"
                " themselves vary by tens of percent, so read a gap under that as noise."
            )
    if len(out) == 2:
        out.append("- Nowhere on the rows measured here: at or ahead of both peers on each.")
    return out


def commands(results: dict[str, Any]) -> list[str]:
    ef, vs = results["embedflow_export"], results["vecshift"]
    return [
        f"- embedflow server: `{_embedflow_serve()}`",
        f"- embedflow re-embedding: `{ef['command']}` (run twice; the second is the fixed cost)",
        f"- vecshift: `vecshift {vs['command']}` with `VECSHIFT_DSN` set to the private"
        " PostgreSQL's URL and this job file (`vecshift.yaml`):",
        "",
        "```yaml",
        *vs_job(),
        "```",
        "",
        "- switchover: `switchover serve` (tests/server.py's `ServerProcess`), `PUT"
        " /v1/documents`, `POST /v1/search` `{query, k: 10}`, `POST /v1/migrations` with"
        ' `{"target": {"name": "v2-256", "factory": "Flat", "embedder": {"truncate_dim":'
        " 256}}}` then `POST /v1/migrations/{id}/backfill`, `.../shadow`, `.../canary`"
        " `{percent: 50, override: true}`, `.../cutover` `{override: true}` (reads on the target).",
        *[f"- {note}" for note in results.get("notes", [])],
    ]


def _embedflow_serve() -> str:
    return (
        "embedflow migrate --index legacy.index --documents documents.jsonl --backend faiss"
        " --old-model <MiniLM folder> --new-model <the same folder, linked under another"
        " name> --metric inner_product --mode source --no-worker --config embedflow.yaml"
        " --cache cache --state state.json --host 127.0.0.1 --port <port>"
    )


def vs_job() -> list[str]:
    import vecshift_peer  # noqa: PLC0415 - psycopg only when writing the report

    spec = vecshift_peer.model_spec("http://127.0.0.1:<port>/v1", 256)
    return vecshift_peer.job_yaml(spec).splitlines()
