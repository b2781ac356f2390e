"""``mmrft score``: malformed lines are reported and skipped, never fatal."""

import argparse
import io
import json

from mmrft.eval.score_cli import add_parser, cmd_score


def test_malformed_lines_are_skipped(tmp_path):
    path = tmp_path / "preds.jsonl"
    lines = [
        json.dumps({"prediction": "104", "answer": "100"}),  # 1: right
        "{not json",  # 2: invalid JSON
        json.dumps({"prediction": "7"}),  # 3: no answer
        "",  # blank lines are ignored
        json.dumps([1, 2]),  # 5: not an object
        json.dumps({"prediction": "3", "answer": "4"}),  # 6: wrong
    ]
    path.write_text("\n".join(lines) + "\n")
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(scorer="chartqa", file=str(path), out=None, mode="official")
    assert cmd_score(args, stdout=out, stderr=err) == 0
    summary = json.loads(out.getvalue())
    assert summary["n"] == 2 and summary["mean"] == 0.5 and summary["skipped"] == 3
    assert [f":{n}:" in err.getvalue() for n in (2, 3, 5)] == [True, True, True]
    scored = [json.loads(x) for x in (tmp_path / "preds.scored.jsonl").read_text().splitlines()]
    assert [r["score"] for r in scored] == [1.0, 0.0]


def test_parser_and_mme_summary(tmp_path):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    path, out_path = tmp_path / "mme.jsonl", tmp_path / "out.jsonl"
    recs = [{"prediction": "yes", "answer": "yes", "image": "a"},
            {"prediction": "yes", "answer": "no", "image": "a"}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    args = parser.parse_args(
        ["score", "mme", str(path), "--out", str(out_path), "--mode", "strict"]
    )
    out = io.StringIO()
    assert args.func(args, stdout=out, stderr=io.StringIO()) == 0
    summary = json.loads(out.getvalue())
    assert summary["acc"] == 0.5 and summary["acc_plus"] == 0.0 and summary["mode"] == "strict"
    assert len(out_path.read_text().splitlines()) == 2
