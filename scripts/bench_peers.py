#!/usr/bin/env python3
"""llama.cpp (llama-cpp-python) on the miner bench's workload, for scripts/bench-peers.sh.

Two subcommands:

  docs   tokenizes public-domain text with the GGUF's own tokenizer (llama.cpp's) and writes
         the documents both engines read: {"documents": [[token ids], ...]}.
  table  reads both engines' JSON lines on stdin and prints the side-by-side table.
  run    teacher-forces those documents through llama.cpp, B at a time in one context
         (one sequence id per document): the prefix of every document in one batch, then one
         step per revealed token with every document in the batch. Each step does what a
         miner must: log-softmax over the vocabulary and the top-K for every document. The
         score is the validator's (scoring/src/bits.rs): -ln p of the true token, with
         p = exp(logprob) when it is in the top-K, else tail_mass / (vocab - K).
         Prints one JSON line per batch size, the same fields as tessera-miner-bench --json.
"""

import argparse
import ctypes
import json
import os
import resource
import sys
import time

import numpy as np

import llama_cpp


def load_model(path, vocab_only=False):
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = vocab_only
    params.use_mmap = True
    model = llama_cpp.llama_model_load_from_file(path.encode(), params)
    if not model:
        sys.exit(f"llama.cpp could not load {path}")
    return model


def tokenize(vocab, text):
    raw = text.encode()
    cap = len(raw) + 16
    buf = (llama_cpp.llama_token * cap)()
    n = llama_cpp.llama_tokenize(vocab, raw, len(raw), buf, cap, False, False)
    if n < 0:
        sys.exit("tokenize: buffer too small")
    return list(buf[:n])


# llama.cpp calls this for every log line; kept referenced so ctypes does not free it.
_SILENT = llama_cpp.llama_log_callback(lambda level, text, user_data: None)


def quiet():
    llama_cpp.llama_log_set(_SILENT, ctypes.c_void_p())


def cmd_docs(args):
    llama_cpp.llama_backend_init()
    quiet()
    model = load_model(args.model, vocab_only=True)
    vocab = llama_cpp.llama_model_get_vocab(model)
    need = args.prompt + args.steps
    docs = []
    for name in sorted(os.listdir(args.text_dir)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(args.text_dir, name), encoding="utf-8", errors="replace") as f:
            ids = tokenize(vocab, f.read())
        if len(ids) >= need:
            docs.append(ids[:need])
        if len(docs) == args.count:
            break
    if len(docs) < args.count:
        sys.exit(f"only {len(docs)} texts in {args.text_dir} have {need} tokens")
    with open(args.out, "w") as f:
        json.dump({"documents": docs}, f)
    llama_cpp.llama_model_free(model)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def score_nats(logits, true_ids, top_k):
    """Log-softmax, top-K and the validator's score for each row of `logits`."""
    m = logits.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    logp = logits - lse
    top = np.argpartition(-logp, top_k - 1, axis=1)[:, :top_k]
    top_lp = np.take_along_axis(logp, top, axis=1)
    vocab = logits.shape[1]
    nats = []
    for row in range(logits.shape[0]):
        hit = np.nonzero(top[row] == true_ids[row])[0]
        if hit.size:
            nats.append(-float(top_lp[row, hit[0]]))
        else:
            tail = max(0.0, 1.0 - float(np.exp(top_lp[row].astype(np.float64)).sum()))
            p = tail / (vocab - top_k)
            nats.append(30.0 * np.log(2.0) if p <= 2.0**-30 else -np.log(p))
    return nats


def fill(batch, entries):
    """entries: (token, pos, seq, wants_logits)."""
    for i, (tok, pos, seq, out) in enumerate(entries):
        batch.token[i] = tok
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = 1 if out else 0
    batch.n_tokens = len(entries)


def measure(model, docs, args, b):
    docs = docs[:b]
    per_seq = -(-(args.prompt + args.steps + 1) // 256) * 256
    cp = llama_cpp.llama_context_default_params()
    cp.n_ctx = b * per_seq
    cp.n_batch = max(b * args.prompt, b)
    cp.n_ubatch = min(cp.n_batch, 512)
    cp.n_seq_max = b
    cp.n_threads = args.threads
    cp.n_threads_batch = args.threads
    ctx = llama_cpp.llama_init_from_model(model, cp)
    if not ctx:
        sys.exit("llama.cpp could not create a context")
    n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
    batch = llama_cpp.llama_batch_init(cp.n_batch, 0, 1)
    nats = []

    def step_logits(n_out):
        ptr = llama_cpp.llama_get_logits(ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, n_vocab))

    started = time.perf_counter()
    entries = []
    for s, d in enumerate(docs):
        entries += [(d[p], p, s, p == args.prompt - 1) for p in range(args.prompt)]
    fill(batch, entries)
    if llama_cpp.llama_decode(ctx, batch) != 0:
        sys.exit("llama_decode failed on the prefix")
    nats += score_nats(step_logits(b), [d[args.prompt] for d in docs], args.top_k)
    prefill_s = time.perf_counter() - started

    decode = time.perf_counter()
    for step in range(args.steps - 1):
        pos = args.prompt + step
        fill(batch, [(d[pos], pos, s, True) for s, d in enumerate(docs)])
        if llama_cpp.llama_decode(ctx, batch) != 0:
            sys.exit(f"llama_decode failed at step {step}")
        nats += score_nats(step_logits(b), [d[pos + 1] for d in docs], args.top_k)
    decode_s = time.perf_counter() - decode
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    return {
        "engine": "llama.cpp",
        "documents": b,
        "prefill_s": prefill_s,
        "decode_s": decode_s,
        "scored_tokens": len(nats),
        "mean_nll": float(np.mean(nats)),
        "peak_rss_mib": peak_rss_mib(),
    }


def cmd_run(args):
    with open(args.docs) as f:
        docs = json.load(f)["documents"]
    llama_cpp.llama_backend_init()
    quiet()
    model = load_model(args.model)
    for b in args.batches:
        if b > len(docs):
            sys.exit(f"{b} documents asked, {args.docs} holds {len(docs)}")
        print(json.dumps(measure(model, docs, args, b)), flush=True)
    llama_cpp.llama_model_free(model)


def cmd_table(args):
    """Reads both engines' JSON lines on stdin, prints one table."""
    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    decode = args.steps - 1
    base = {r["documents"]: r["documents"] * decode / r["decode_s"] for r in rows if r["engine"] == "llama.cpp"}
    print(f"{'engine':<14} {'documents':>9} {'scored tok/s':>13} {'vs llama.cpp':>13} {'prefill s':>10} {'mean NLL':>9} {'peak RSS MiB':>13}")
    for r in sorted(rows, key=lambda r: (r["documents"], r["engine"] != "llama.cpp")):
        tps = r["documents"] * decode / r["decode_s"]
        ratio = tps / base[r["documents"]] if r["documents"] in base else float("nan")
        print(f"{r['engine']:<14} {r['documents']:>9} {tps:>13.1f} {ratio:>12.2f}x {r['prefill_s']:>10.2f} "
              f"{r['mean_nll']:>9.4f} {r['peak_rss_mib']:>13.0f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("docs")
    d.add_argument("--model", required=True)
    d.add_argument("--text-dir", required=True)
    d.add_argument("--count", type=int, default=32)
    d.add_argument("--prompt", type=int, default=128)
    d.add_argument("--steps", type=int, default=128)
    d.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--model", required=True)
    r.add_argument("--docs", required=True)
    r.add_argument("--batches", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    r.add_argument("--prompt", type=int, default=128)
    r.add_argument("--steps", type=int, default=128)
    r.add_argument("--top-k", type=int, default=32)
    r.add_argument("--threads", type=int, default=2)
    t = sub.add_parser("table")
    t.add_argument("--steps", type=int, default=128)
    args = p.parse_args()
    {"docs": cmd_docs, "run": cmd_run, "table": cmd_table}[args.cmd](args)


if __name__ == "__main__":
    main()
