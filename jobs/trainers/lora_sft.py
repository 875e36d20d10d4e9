#!/usr/bin/env python3
"""LoRA supervised fine-tuning for Enclave (transformers + peft + trl).

Prints one JSON object per line on stdout (the protocol parsed by
server/lifecycle/finetune/protocol.ts): step, eval, checkpoint, done, error.
Heavy imports live inside functions so `--help` and `python3 -m py_compile`
work on machines without torch (the web and worker hosts).
"""
import argparse
import json
import math
import os
import sys
import time
import traceback


def emit(event, **fields):
    # One line per event, flushed: the worker reads this stream live.
    print(json.dumps({"event": event, **fields}, allow_nan=False), flush=True)


def finite(value):
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class ProtocolArgumentParser(argparse.ArgumentParser):
    """Usage errors also go out as an error event, so the job row says what was wrong."""

    def error(self, message):
        emit("error", message=f"bad arguments: {message}")
        super().error(message)


def parse_args(argv=None):
    p = ProtocolArgumentParser(description="LoRA SFT trainer speaking Enclave's JSON-lines protocol")
    p.add_argument("--self-test", action="store_true",
                   help="train a tiny random Llama built in memory for a few steps (no files needed)")
    p.add_argument("--base-model", help="path of the base model (Hugging Face format)")
    p.add_argument("--dataset", help="JSONL: OpenAI messages, Alpaca or ShareGPT rows")
    p.add_argument("--eval-dataset", help="held-out JSONL in the same formats (optional)")
    p.add_argument("--output-dir", help="checkpoints and the final adapter go here")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--lora-dropout", type=float, default=0.05)
    p.add_argument("--target-modules", default="q_proj,k_proj,v_proj,o_proj",
                   help="comma-separated module names, or all-linear")
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--per-device-batch-size", type=int, default=4)
    p.add_argument("--gradient-accumulation", type=int, default=1)
    p.add_argument("--max-seq-length", type=int, default=1024)
    p.add_argument("--warmup-ratio", type=float, default=0.03)
    p.add_argument("--scheduler", default="cosine",
                   choices=["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--logging-steps", type=int, default=1)
    p.add_argument("--save-steps", type=int, default=50)
    p.add_argument("--max-steps", type=int, default=-1, help="overrides epochs when > 0")
    p.add_argument("--resume-from-checkpoint", help="checkpoint directory written by an earlier run of this job")
    p.add_argument("--bf16", action="store_true", help="train in bfloat16 (GPU)")
    p.add_argument("--merge", action="store_true",
                   help="also write the base with the adapter merged in (output-dir/merged, Hugging Face format)")
    args = p.parse_args(argv)
    if not args.self_test:
        missing = [f for f in ("base_model", "dataset", "output_dir") if getattr(args, f) is None]
        if missing:
            p.error("missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
    for name in ("lora_r", "lora_alpha", "per_device_batch_size", "gradient_accumulation", "max_seq_length"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.lora_dropout < 1:
        p.error("--lora-dropout must be in [0, 1)")
    if args.learning_rate <= 0 or args.epochs <= 0:
        p.error("--learning-rate and --epochs must be positive")
    return args


ROLE_MAP = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
            "system": "system", "bot": "assistant"}


def to_messages(row, line_no):
    """Normalise one row (messages, Alpaca, ShareGPT) to OpenAI messages."""
    if not isinstance(row, dict):
        raise ValueError(f"line {line_no}: a row must be a JSON object")
    if isinstance(row.get("messages"), list):
        messages = []
        for m in row["messages"]:
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
                raise ValueError(f"line {line_no}: a message needs a role of system, user, assistant or tool")
            if not isinstance(m.get("content"), str):
                raise ValueError(f"line {line_no}: a message's content must be a string")
            messages.append({"role": m["role"], "content": m["content"]})
    elif isinstance(row.get("conversations"), list):
        messages = []
        for turn in row["conversations"]:
            role = ROLE_MAP.get(turn.get("from")) if isinstance(turn, dict) else None
            if role is None:
                raise ValueError(f"line {line_no}: unknown ShareGPT speaker {turn.get('from')!r}")
            messages.append({"role": role, "content": turn.get("value", "")})
    elif "instruction" in row and "output" in row:
        prompt = row["instruction"] + (("\n\n" + row["input"]) if row.get("input") else "")
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]
    else:
        raise ValueError(f"line {line_no}: not messages, Alpaca or ShareGPT")
    if not any(m["role"] == "assistant" and m["content"] for m in messages):
        raise ValueError(f"line {line_no}: no assistant turn to learn from")
    return messages


def load_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path} line {line_no}: invalid JSON ({e.msg})") from None
            try:
                rows.append({"messages": to_messages(row, line_no)})
            except ValueError as e:
                raise ValueError(f"{path} {e}") from None
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def make_callback():
    from transformers import TrainerCallback

    class JsonLinesCallback(TrainerCallback):
        """Turns the Trainer's logs and saves into protocol events."""

        def __init__(self):
            self.last_time = None
            self.last_tokens = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.last_time = time.monotonic()
            self.last_tokens = state.num_input_tokens_seen or 0

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if any(k.startswith("eval_") for k in logs):
                emit("eval", step=state.global_step,
                     **{k: finite(v) for k, v in logs.items() if isinstance(v, (int, float))})
                return
            if "loss" not in logs:
                return  # the final train_runtime summary; `done` covers it
            now = time.monotonic()
            tokens = state.num_input_tokens_seen or 0
            tps = (tokens - self.last_tokens) / (now - self.last_time) if now > self.last_time and tokens else None
            self.last_time, self.last_tokens = now, tokens
            emit("step", step=state.global_step, total_steps=state.max_steps, loss=finite(logs.get("loss")),
                 learning_rate=finite(logs.get("learning_rate")), grad_norm=finite(logs.get("grad_norm")),
                 epoch=finite(logs.get("epoch", state.epoch)), tokens_per_second=finite(tps))

        def on_save(self, args, state, control, **kwargs):
            path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            emit("checkpoint", path=path, step=state.global_step)

    return JsonLinesCallback()


def tiny_llama():
    """A tiny randomly initialised Llama and a character tokenizer, built in memory
    (also used by quantize.py's self-test)."""
    from tokenizers import Tokenizer, models, decoders
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    chars = [chr(c) for c in range(32, 127)] + ["\n"]
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({c: i + 4 for i, c in enumerate(chars)})
    # BPE without merges and without a pre-tokenizer is a plain character tokenizer
    # (spaces and newlines included); Fuse joins characters back without separators.
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>")
    # A minimal chat template so trl can render `messages` rows as it would for a real model.
    tokenizer.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}assistant: {% endif %}")
    config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config), tokenizer


def self_test_setup(args):
    """The tiny Llama plus a synthetic dataset, all in memory."""
    import tempfile
    from datasets import Dataset

    model, tokenizer = tiny_llama()
    rows = [{"messages": [{"role": "user", "content": f"count to {n}"},
                          {"role": "assistant", "content": " ".join(str(i) for i in range(1, n + 1))}]}
            for n in range(1, 33)]
    args.output_dir = args.output_dir or tempfile.mkdtemp(prefix="enclave-lora-selftest-")
    args.max_steps = args.max_steps if args.max_steps > 0 else 6
    args.save_steps = min(args.save_steps, 3)
    args.max_seq_length = min(args.max_seq_length, 128)
    args.learning_rate = max(args.learning_rate, 1e-3)  # visible loss movement in a few steps
    return model, tokenizer, Dataset.from_list(rows), Dataset.from_list(rows[:4])


def train(args):
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    set_seed(args.seed)
    if args.self_test:
        model, tokenizer, train_ds, eval_ds = self_test_setup(args)
    else:
        tokenizer = AutoTokenizer.from_pretrained(args.base_model)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(
            args.base_model, dtype=torch.bfloat16 if args.bf16 else torch.float32)
        train_ds = Dataset.from_list(load_jsonl(args.dataset))
        eval_ds = Dataset.from_list(load_jsonl(args.eval_dataset)) if args.eval_dataset else None

    targets = args.target_modules if args.target_modules == "all-linear" else \
        [m.strip() for m in args.target_modules.split(",") if m.strip()]
    peft_config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                             target_modules=targets, bias="none", task_type="CAUSAL_LM")
    config = SFTConfig(
        output_dir=args.output_dir,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.per_device_batch_size,
        per_device_eval_batch_size=args.per_device_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.scheduler,
        warmup_ratio=args.warmup_ratio,
        seed=args.seed,
        max_length=args.max_seq_length,
        logging_steps=args.logging_steps,
        save_steps=args.save_steps,
        eval_strategy="steps" if eval_ds is not None else "no",
        eval_steps=args.save_steps,
        bf16=args.bf16,
        include_num_input_tokens_seen=True,  # feeds tokens_per_second
        report_to=[],
        disable_tqdm=True,  # progress bars would interleave with the JSON lines
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=train_ds, eval_dataset=eval_ds,
                         processing_class=tokenizer, peft_config=peft_config, callbacks=[make_callback()])
    trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    adapter_path = os.path.join(args.output_dir, "adapter")
    tmp = adapter_path + ".tmp"
    trainer.model.save_pretrained(tmp)  # the LoRA weights only (peft)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, adapter_path)  # a crash mid-save never leaves a half adapter at the final name
    merged_path = merge_adapter(trainer.model, tokenizer, args.output_dir) if args.merge else None
    emit("done", adapter_path=adapter_path, **({"output_path": merged_path} if merged_path else {}))


def merge_adapter(peft_model, tokenizer, output_dir):
    """Folds the LoRA deltas into the base weights (peft's merge_and_unload) and saves a plain model
    that vLLM serves without any LoRA flags; written under a temporary name, then renamed."""
    merged_path = os.path.join(output_dir, "merged")
    tmp = merged_path + ".tmp"
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, merged_path)
    return merged_path


def run_protocol(work, args):
    """Runs one trainer's work; any failure leaves as an error event (and exit 1) for the job row."""
    # Libraries print warnings to stdout; the protocol parser keeps them as log lines.
    try:
        work(args)
        return 0
    except Exception as e:  # noqa: BLE001 - any failure must reach the job row as an error event
        traceback.print_exc(file=sys.stderr)
        emit("error", message=f"{type(e).__name__}: {e}")
        return 1


def main(argv=None):
    return run_protocol(train, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
