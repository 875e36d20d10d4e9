#!/usr/bin/env python3
"""Quantize a Hugging Face checkpoint for vLLM, with a quality gate figure.

Schemes: fp16 (a plain cast), w8a8-int8 (llm-compressor: SmoothQuant then GPTQ,
needs calibration text) and fp8-dynamic (llm-compressor, no calibration data).
The llm-compressor output is saved in compressed-tensors format, which vLLM reads
without extra flags. Perplexity on the held-out text is measured before and after.

Needs torch and transformers (and accelerate to place the model); llm-compressor and
datasets only for the schemes that use them, so `--self-test` runs without them.

Speaks the JSON-lines protocol of server/lifecycle/finetune/protocol.ts: one step
event per stage, an eval event with perplexity_before/perplexity_after, then done
with output_path, or error. Heavy imports live inside functions so `--help` and
`python3 -m py_compile` work without torch.
"""
import argparse
import json
import math
import os
import shutil
import sys

from lora_sft import emit, finite, has_package, ProtocolArgumentParser, require, run_protocol

SCHEMES = ("fp16", "w8a8-int8", "fp8-dynamic")
STAGES = ("load", "perplexity_before", "quantize", "perplexity_after", "save")


def parse_args(argv=None):
    p = ProtocolArgumentParser(description="Quantize a Hugging Face checkpoint (Enclave JSON-lines protocol)")
    p.add_argument("--self-test", action="store_true",
                   help="quantize a tiny random Llama built in memory (fp16 always; others when llm-compressor is installed)")
    p.add_argument("--model", help="Hugging Face checkpoint directory")
    p.add_argument("--output-dir", help="where the quantized checkpoint is written (must not exist)")
    p.add_argument("--scheme", choices=SCHEMES, default="fp16")
    p.add_argument("--eval-text", help="held-out plain-text file for perplexity before and after")
    p.add_argument("--calibration-text", help="plain-text file for calibration (w8a8-int8); one sample per paragraph")
    p.add_argument("--num-calibration-samples", type=int, default=256)
    p.add_argument("--max-seq-length", type=int, default=2048)
    p.add_argument("--smoothing-strength", type=float, default=0.8)
    p.add_argument("--max-eval-tokens", type=int, default=65536, help="caps perplexity time on long texts")
    args = p.parse_args(argv)
    if not args.self_test:
        missing = [f for f in ("model", "output_dir", "eval_text") if getattr(args, f) is None]
        if missing:
            p.error("missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
        if args.scheme == "w8a8-int8" and not args.calibration_text:
            p.error("--scheme w8a8-int8 needs --calibration-text (SmoothQuant and GPTQ calibrate on it)")
        if os.path.exists(args.output_dir):
            p.error(f"--output-dir {args.output_dir} already exists; refusing to overwrite")
    if args.max_seq_length < 2 or args.num_calibration_samples < 1:
        p.error("--max-seq-length must be at least 2 and --num-calibration-samples at least 1")
    return args


def perplexity(model, tokenizer, text, max_seq_length, max_tokens):
    """exp(mean next-token NLL) over non-overlapping windows, as llama.cpp's perplexity does."""
    import torch

    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids[0][:max_tokens]
    window = min(max_seq_length, getattr(model.config, "max_position_embeddings", max_seq_length))
    if ids.numel() < 2:
        raise ValueError("held-out text is too short to measure perplexity (fewer than 2 tokens)")
    device = next(model.parameters()).device
    total_nll, total_tokens = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, ids.numel() - 1, window):
            chunk = ids[start:start + window].unsqueeze(0).to(device)
            if chunk.shape[1] < 2:
                break
            out = model(chunk, labels=chunk)
            n = chunk.shape[1] - 1  # labels are shifted inside the model
            total_nll += float(out.loss) * n
            total_tokens += n
    return math.exp(total_nll / total_tokens)


def calibration_dataset(tokenizer, path, samples, max_seq_length):
    from datasets import Dataset

    with open(path, encoding="utf-8") as f:
        paragraphs = [p.strip() for p in f.read().split("\n\n") if p.strip()][:samples]
    if not paragraphs:
        raise ValueError(f"{path}: no calibration text")
    enc = tokenizer(paragraphs, truncation=True, max_length=max_seq_length, add_special_tokens=False)
    return Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})


def llmcompressor_recipe(scheme, smoothing_strength):
    # The recipes of llm-compressor's int8 and fp8 examples; lm_head stays unquantized.
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier
    from llmcompressor.modifiers.smoothquant import SmoothQuantModifier

    if scheme == "w8a8-int8":
        return [SmoothQuantModifier(smoothing_strength=smoothing_strength),
                GPTQModifier(targets="Linear", scheme="W8A8", ignore=["lm_head"])]
    return QuantizationModifier(targets="Linear", scheme="FP8_DYNAMIC", ignore=["lm_head"])


def run_oneshot(model, recipe, dataset, args):
    try:
        from llmcompressor import oneshot
    except ImportError:  # llm-compressor before 0.5 exported it from .transformers
        from llmcompressor.transformers import oneshot
    if dataset is None:
        oneshot(model=model, recipe=recipe)
    else:
        oneshot(model=model, dataset=dataset, recipe=recipe, max_seq_length=args.max_seq_length,
                num_calibration_samples=len(dataset))


def require_scheme(scheme):
    # Before any stage runs: a missing package should not cost a perplexity pass first.
    if scheme != "fp16":
        require("llmcompressor", purpose=f"--scheme {scheme} runs llm-compressor on the GPU host (fp16 needs only torch)")
    if scheme == "w8a8-int8":
        require("datasets", purpose="--scheme w8a8-int8 hands llm-compressor its calibration text as a datasets.Dataset")


def quantize_one(args, model, tokenizer, eval_text, calib_text_path):
    import torch

    require_scheme(args.scheme)

    stage = iter(range(1, len(STAGES) + 1))
    step = lambda name: emit("step", step=next(stage), total_steps=len(STAGES), stage=name, loss=None)  # noqa: E731
    step("load")
    before = perplexity(model, tokenizer, eval_text, args.max_seq_length, args.max_eval_tokens)
    step("perplexity_before")
    if args.scheme == "fp16":
        # Cast floating tensors only; vLLM reads torch_dtype from config.json.
        model = model.to(torch.float16)
    else:
        dataset = None
        if args.scheme == "w8a8-int8":
            dataset = calibration_dataset(tokenizer, calib_text_path, args.num_calibration_samples, args.max_seq_length)
        run_oneshot(model, llmcompressor_recipe(args.scheme, args.smoothing_strength), dataset, args)
    step("quantize")
    after = perplexity(model, tokenizer, eval_text, args.max_seq_length, args.max_eval_tokens)
    step("perplexity_after")
    emit("eval", perplexity_before=finite(before), perplexity_after=finite(after),
         perplexity_delta=finite((after - before) / before), scheme=args.scheme)
    tmp = args.output_dir.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    if args.scheme == "fp16":
        model.save_pretrained(tmp)
    else:
        model.save_pretrained(tmp, save_compressed=True)  # compressed-tensors, read by vLLM as is
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, args.output_dir)  # never a half-written checkpoint at the final name
    step("save")
    emit("done", output_path=args.output_dir)


def self_test(args):
    import tempfile
    require("torch", "transformers", purpose="the self-test needs torch and transformers (llm-compressor is optional)")
    import torch
    from lora_sft import tiny_llama

    text = "\n".join(f"Once upon a time there was a cat number {i}. It liked to play." for i in range(40))
    base = tempfile.mkdtemp(prefix="enclave-quantize-selftest-")
    calib = os.path.join(base, "calib.txt")
    with open(calib, "w", encoding="utf-8") as f:
        f.write("\n\n".join(f"The dog ran {i} times around the tree." for i in range(16)))
    schemes = ["fp16"]
    if has_package("llmcompressor"):
        schemes += ["w8a8-int8", "fp8-dynamic"]
    else:
        emit("log", message="llmcompressor not installed: self-test covers fp16 only")
    # On the GPU when there is one: the point of running it on a lent GPU host is the CUDA path.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    emit("log", message=f"device {device}" + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else "")
         + f"; torch {torch.__version__}")
    for scheme in schemes:
        model, tokenizer = tiny_llama()
        model = model.to(device)
        args.scheme, args.output_dir = scheme, os.path.join(base, scheme)
        args.num_calibration_samples, args.max_seq_length = 16, 128
        quantize_one(args, model, tokenizer, text, calib)


def run(args):
    if args.self_test:
        return self_test(args)
    # device_map="auto" below is accelerate's; name it here rather than fail inside from_pretrained.
    require("torch", "transformers", "accelerate", purpose="quantize.py needs torch, transformers and accelerate")
    require_scheme(args.scheme)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with open(args.eval_text, encoding="utf-8") as f:
        eval_text = f.read()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    # "auto" keeps the checkpoint's own dtype for the before figure; device_map places it on the GPUs given.
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype="auto", device_map="auto")
    quantize_one(args, model, tokenizer, eval_text, args.calibration_text)


def main(argv=None):
    return run_protocol(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
