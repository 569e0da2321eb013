"""Coverage-guided fuzzing of the ingest decoder with atheris (libFuzzer for Python). A script.

Hypothesis (``tests/unit/ingest/test_decoding_fuzz.py``) checks properties on inputs built to be bad;
atheris complements it by mutating bytes towards new branches of ``json`` + pydantic + the
decoder, without knowing the format. The property is the robustness one: any bytes either decode
to a mention or raise ``InvalidMention`` with a known reason, and an accepted mention survives
brand matching. Any other exception is a crash that would stop the ``classify_mentions`` agent.

atheris is not a project dependency (yet); run it with::

    pip install --target /tmp/atheris-lib atheris
    PYTHONPATH=/tmp/atheris-lib:. .venv/bin/python tests/tools/fuzz_atheris_decoder.py -runs=200000

libFuzzer options go through unchanged (``-max_total_time=60``, a corpus folder, ...).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris
from pydantic import SecretStr

with atheris.instrument_imports():
    from pipeline.brands import load_brands
    from pipeline.errors import InvalidMention
    from pipeline.ingest.decoding import REASONS, decode_raw, to_mention
    from pipeline.ingest.pseudonyms import Pseudonymiser

BRANDS = load_brands(Path(__file__).resolve().parents[2] / "pipeline" / "config" / "brands.yaml")
PSEUDONYMS = Pseudonymiser(SecretStr("unit-test-pseudonym-key-0123456789"), "t1")
SEED = (
    b'{"id": "x:1", "platform": "x", "created_at": "2026-11-20T08:15:03Z", '
    b'"text": "Brenmoor tripled the price of Glytera", "author": {"id": "u1", "followers": 3}, '
    b'"engagement": {"likes": 1}, "kind": "post", "url": "https://x.example/1", "lang": "en"}'
)


def one_input(data: bytes) -> None:
    try:
        raw = decode_raw(data, max_bytes=4096, max_text_chars=280)
    except InvalidMention as exc:
        if exc.reason not in REASONS:
            raise AssertionError(f"unknown reason {exc.reason!r}") from exc
        return
    to_mention(raw, BRANDS, PSEUDONYMS)


def main() -> None:
    corpus = Path("/tmp/tocsin-atheris-corpus")
    corpus.mkdir(exist_ok=True)
    (corpus / "seed.json").write_bytes(SEED)
    argv = [*sys.argv]
    if not any(not a.startswith("-") for a in argv[1:]):
        argv.append(str(corpus))
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
