#!/usr/bin/env python3
"""LoRA supervised fine-tuning for Enclave (transformers + peft, with trl when installed).

Prints one JSON object per line on stdout (the protocol parsed by
server/lifecycle/finetune/protocol.ts): step, eval, checkpoint, done, error.
Heavy imports live inside functions so `--help` and `python3 -m py_compile`
work on machines without torch (the web and worker hosts).
trl and datasets are optional for `--self-test`: without them it trains with
transformers' own Trainer (a GPU host lent for a few minutes may have only torch,
transformers and peft); a real fine-tune still needs them and says so.
"""
import argparse
import importlib.util
import json
import math
import os
import shutil
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


class MissingPackageError(RuntimeError):
    """A Python package this run needs is not installed; the message names it and why."""


def require(*packages, purpose):
    # Checked before importing, so the job row says which packages are missing and why,
    # rather than the first ImportError somewhere inside a library.
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingPackageError(f"missing Python package{'s' if len(missing) > 1 else ''} "
                                  f"{', '.join(missing)}: {purpose}")


def has_package(name):
    return importlib.util.find_spec(name) is not None


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
    if not 0 <= args.warmup_ratio < 1:
        p.error("--warmup-ratio must be in [0, 1)")
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


SELF_TEST_PACKAGES = ("torch", "transformers", "peft")
FINETUNE_PACKAGES = ("torch", "transformers", "peft", "trl", "datasets")


def self_test_setup(args):
    """The tiny Llama plus a synthetic dataset, all in memory (plain lists: datasets is optional)."""
    import tempfile

    model, tokenizer = tiny_llama()
    rows = [{"messages": [{"role": "user", "content": f"count to {n}"},
                          {"role": "assistant", "content": " ".join(str(i) for i in range(1, n + 1))}]}
            for n in range(1, 33)]
    args.output_dir = args.output_dir or tempfile.mkdtemp(prefix="enclave-lora-selftest-")
    args.max_steps = args.max_steps if args.max_steps > 0 else 6
    args.save_steps = min(args.save_steps, 3)
    args.max_seq_length = min(args.max_seq_length, 128)
    args.learning_rate = max(args.learning_rate, 1e-3)  # visible loss movement in a few steps
    return model, tokenizer, rows, rows[:4]


def describe_environment(loop):
    """One log line saying where the run happens and with what: the first thing to read in a recorded run."""
    import peft
    import torch
    import transformers

    where = f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    emit("log", message=f"device {where}; torch {torch.__version__}, transformers {transformers.__version__}, "
                        f"peft {peft.__version__}; trl {'present' if has_package('trl') else 'absent'}; loop: {loop}")


def training_arguments(args, eval_rows):
    """The TrainingArguments fields both loops share (SFTConfig is a TrainingArguments)."""
    import dataclasses
    import torch
    from transformers import TrainingArguments

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    # transformers 5 dropped warmup_ratio; its warmup_steps reads a value below 1 as that ratio.
    warmup = {"warmup_ratio": args.warmup_ratio} if "warmup_ratio" in fields else {"warmup_steps": args.warmup_ratio}
    return dict(
        output_dir=args.output_dir,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.per_device_batch_size,
        per_device_eval_batch_size=args.per_device_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation,
        learning_rate=args.learning_rate,
        lr_scheduler_type=args.scheduler,
        seed=args.seed,
        logging_steps=args.logging_steps,
        save_steps=args.save_steps,
        eval_strategy="steps" if eval_rows is not None else "no",
        eval_steps=args.save_steps,
        bf16=args.bf16,
        include_num_input_tokens_seen=True,  # feeds tokens_per_second
        report_to=[],
        disable_tqdm=True,  # progress bars would interleave with the JSON lines
        use_cpu=not torch.cuda.is_available(),
        **warmup,
    )


def trl_trainer(model, tokenizer, train_rows, eval_rows, peft_config, args):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    config = SFTConfig(max_length=args.max_seq_length, **training_arguments(args, eval_rows))
    return SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(train_rows),
                      eval_dataset=Dataset.from_list(eval_rows) if eval_rows is not None else None,
                      processing_class=tokenizer, peft_config=peft_config, callbacks=[make_callback()])


def encode_conversation(tokenizer, messages, max_length):
    """A messages row as trl renders it by default: the chat template's text, loss on every token
    (trl's SFT only masks prompts for prompt-completion rows or with assistant_only_loss)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    # The template writes any special tokens itself; adding them again would double the BOS.
    ids = tokenizer(text, truncation=True, max_length=max_length, add_special_tokens=False)["input_ids"]
    return {"input_ids": ids, "labels": list(ids)}


def pad_batch(pad_id):
    def collate(rows):
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        pad = lambda values, fill: values + [fill] * (width - len(values))  # noqa: E731
        return {
            "input_ids": torch.tensor([pad(r["input_ids"], pad_id) for r in rows]),
            "attention_mask": torch.tensor([pad([1] * len(r["input_ids"]), 0) for r in rows]),
            "labels": torch.tensor([pad(r["labels"], -100) for r in rows]),  # -100: ignored by the loss
        }
    return collate


def plain_trainer(model, tokenizer, train_rows, eval_rows, peft_config, args):
    """transformers' own Trainer on rows encoded here: the loop used when trl is absent. Same callback,
    same checkpoint-N layout and resume, so the protocol and the job runner cannot tell them apart."""
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments

    encode = lambda rows: [encode_conversation(tokenizer, r["messages"], args.max_seq_length) for r in rows]  # noqa: E731
    # remove_unused_columns=False: the rows carry exactly the model's inputs, and a peft model's
    # forward signature would otherwise hide them from the Trainer's column filter.
    config = TrainingArguments(remove_unused_columns=False, **training_arguments(args, eval_rows))
    return Trainer(model=get_peft_model(model, peft_config), args=config, train_dataset=encode(train_rows),
                   eval_dataset=encode(eval_rows) if eval_rows is not None else None,
                   data_collator=pad_batch(tokenizer.pad_token_id), processing_class=tokenizer,
                   callbacks=[make_callback()])


def train(args):
    use_trl = has_package("trl") and has_package("datasets")
    if args.self_test:
        require(*SELF_TEST_PACKAGES, purpose="the self-test needs torch, transformers and peft "
                                             "(trl and datasets are optional)")
    else:
        require(*FINETUNE_PACKAGES, purpose="a fine-tune needs torch, transformers, peft, trl and datasets "
                                            "on the GPU host (only --self-test runs without trl and datasets)")
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

    set_seed(args.seed)
    if args.self_test:
        describe_environment("trl SFTTrainer" if use_trl else "transformers Trainer (trl absent)")
        model, tokenizer, train_rows, eval_rows = self_test_setup(args)
    else:
        tokenizer = AutoTokenizer.from_pretrained(args.base_model)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(
            args.base_model, dtype=torch.bfloat16 if args.bf16 else torch.float32)
        train_rows = load_jsonl(args.dataset)
        eval_rows = load_jsonl(args.eval_dataset) if args.eval_dataset else None

    targets = args.target_modules if args.target_modules == "all-linear" else \
        [m.strip() for m in args.target_modules.split(",") if m.strip()]
    peft_config = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                             target_modules=targets, bias="none", task_type="CAUSAL_LM")
    make_trainer = trl_trainer if use_trl else plain_trainer
    trainer = make_trainer(model, tokenizer, train_rows, eval_rows, peft_config, args)
    # Without progress bars the Trainer prints every log dict to stdout as well; our callback already
    # turned each into an event, and the copies would only become noise lines in the job's log.
    from transformers.trainer_callback import PrinterCallback
    trainer.remove_callback(PrinterCallback)
    trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    adapter_path = os.path.join(args.output_dir, "adapter")
    tmp = fresh_dir(adapter_path + ".tmp")
    trainer.model.save_pretrained(tmp)  # the LoRA weights only (peft)
    tokenizer.save_pretrained(tmp)
    publish_dir(tmp, adapter_path)
    merged_path = merge_adapter(trainer.model, tokenizer, args.output_dir) if args.merge else None
    emit("done", adapter_path=adapter_path, **({"output_path": merged_path} if merged_path else {}))


def fresh_dir(path):
    # A crash mid-save leaves a partial .tmp behind; files of that attempt must not mix with this one's.
    shutil.rmtree(path, ignore_errors=True)
    return path


def publish_dir(tmp, final):
    """Moves a completely written directory to its final name: a crash mid-save never leaves a half
    adapter there. A run resumed after an earlier attempt had finished replaces that attempt's output
    (os.replace refuses a non-empty target directory)."""
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)


def merge_adapter(peft_model, tokenizer, output_dir):
    """Folds the LoRA deltas into the base weights (peft's merge_and_unload) and saves a plain model
    that vLLM serves without any LoRA flags; written under a temporary name, then renamed."""
    merged_path = os.path.join(output_dir, "merged")
    tmp = fresh_dir(merged_path + ".tmp")
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    publish_dir(tmp, merged_path)
    return merged_path


def run_protocol(work, args):
    """Runs one trainer's work; any failure leaves as an error event (and exit 1) for the job row."""
    # Libraries print warnings to stdout; the protocol parser keeps them as log lines.
    try:
        work(args)
        return 0
    except Exception as e:  # noqa: BLE001 - any failure must reach the job row as an error event
        if not isinstance(e, MissingPackageError):  # its message says all; a traceback would bury it
            traceback.print_exc(file=sys.stderr)
        emit("error", message=f"{type(e).__name__}: {e}")
        return 1


def main(argv=None):
    return run_protocol(train, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
