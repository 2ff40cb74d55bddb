"""Filters: WordNet constraints on real synsets, near-duplicates, and the LLM judge through
the real openai client against a local OpenAI-compatible endpoint."""

import copy

import pytest

from scar.build.pipeline import make_steps
from support import cfg
from scar.build.filters.dedup import NearDuplicates
from scar.build.filters.llm_judge import LLMJudge
from scar.build.filters.wordnet import WordNetConstraints, scene_noun
from scar.build.llm.client import LLMConfig
from scar.testing.stub_server import StubEndpoint
from scar.types import Candidate, Element, Region, Sample


def sample(obj_swaps=("bowl", "plate", "dog"), scene_swaps=("in a bathroom", "on a beach", "in a garage"),
           sid="s/1/1", bbox=(10, 10, 20, 20), image_id="1"):
    s = Sample(sid, "coco", "val", image_id, "a.jpg", 100, 80, Region(bbox, "cup", "1"),
               object=Element("cup", "annotation", "cup"),
               relation=Element("to the left of the chair", "geometry", "to the left of", anchor="2"),
               scene=Element("in a kitchen", "annotation", "kitchen"))
    gt = "cup to the left of the chair in a kitchen"
    s.candidates = [Candidate(gt)]
    s.candidates += [Candidate(f"{o} to the left of the chair in a kitchen", "object", o) for o in obj_swaps]
    s.candidates += [Candidate(f"cup {r} the chair in a kitchen", "relation", f"{r} the chair")
                     for r in ("to the right of", "above", "below")]
    s.candidates += [Candidate(f"cup to the left of the chair {sc}", "scene", sc) for sc in scene_swaps]
    return s


def test_wordnet_constraints():
    f = WordNetConstraints()
    assert f.keep(sample()) is True
    ok, why = f.keep(sample(obj_swaps=("bowl", "container", "dog")))
    assert not ok and "'container' (candidate 2) is a hypernym of 'cup'" in why
    ok, why = f.keep(sample(obj_swaps=("bowl", "teacup", "dog")))
    assert not ok and "hyponym" in why
    ok, why = f.keep(sample(obj_swaps=("bowl", "blorf", "dog")))
    assert not ok and "not a WordNet noun" in why
    ok, why = f.keep(sample(scene_swaps=("in a bathroom", "in a room", "in a garage")))
    assert not ok and "scene swap: 'room' (candidate 8) is a hypernym of 'kitchen'" in why
    assert scene_noun("on a beach") == "beach" and scene_noun("by the old mill") == "old mill"


def test_near_duplicates_keep_the_first():
    a, b, c = sample(sid="a"), sample(sid="b", bbox=(11, 11, 20, 20)), sample(sid="c", bbox=(60, 40, 20, 20))
    d = sample(sid="d", bbox=(11, 11, 20, 20), image_id="2")
    step = NearDuplicates()
    assert [s.id for s in step([a, b, c, d])] == ["a", "c", "d"]
    _, rej = step.drain()
    assert rej[0].sample_id == "b" and "as a" in rej[0].reason


def test_filters_are_in_every_build():
    names = [s.name for s in make_steps(cfg("coco", "root", "val", "out"))]
    # the cap after every filter (a stand-in replaces what they drop), masks only for the kept samples
    assert names[-5:] == ["candidate_checks", "wordnet", "dedup", "cap", "masks"]
    with pytest.raises(ValueError, match="--judge asks the generator's LLM endpoint"):
        cfg("coco", "root", "val", "out", generator={"judge": True})


@pytest.mark.llm
def test_llm_judge_drops_possibly_true_distractors_and_failures(tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))

    def reply(body):
        user = body["messages"][-1]["content"]
        verdicts = [True] * 9
        if "teacup" in user:
            verdicts[0] = False  # "teacup ..." could be true
        return {"false_for_region": verdicts}

    with StubEndpoint(reply) as stub:
        cfg = LLMConfig(model="judge-test", base_url=stub.base_url, api_key="sk-test-not-a-real-key", max_attempts=2,
                        backoff=0.01)
        judge = LLMJudge(cfg)
        good, bad = sample(sid="good"), sample(sid="bad", obj_swaps=("teacup", "plate", "dog"))
        kept = judge([good, bad])
        assert [s.id for s in kept] == ["good"]
        _, rej = judge.drain()
        assert rej[0].sample_id == "bad" and "1 'teacup to the left" in rej[0].reason
        assert stub.requests == 2
        again = LLMJudge(copy.copy(cfg))([sample(sid="good")])  # the reply cache: no new request
        assert len(again) == 1 and stub.requests == 2
        stub.fail("broken_json", "broken_json")
        judge3 = LLMJudge(LLMConfig(model="judge-test", base_url=stub.base_url, api_key="sk-x", max_attempts=2,
                                    backoff=0.01, use_cache=False))
        assert judge3([sample(sid="x")]) == []
        _, rej = judge3.drain()
        assert rej[0].reason.startswith("judge: request failed")



@pytest.mark.parametrize("break_it", [
    lambda s: setattr(s.candidates[9], "text", "cup to the left of the chair {scene}"),  # leak (and not the GT)
    lambda s: setattr(s.candidates[1], "neg_value", "cup"),  # an object swap that keeps the GT's object
    lambda s: setattr(s.candidates[4], "text", "cup to the right of the chair in a garage"),  # two changes
    lambda s: setattr(s.candidates[5], "text", s.candidates[4].text.upper()),  # a duplicate
    lambda s: setattr(s.candidates[2], "text", "a" * 301),  # too long
    lambda s: setattr(s.candidates[3], "neg_type", "colour"),  # an unknown swap type
], ids=["leak", "keeps-gt", "two-changes", "duplicate", "length", "type"])
def test_the_filter_and_validate_apply_the_same_candidate_rules(break_it, tmp_path):
    """One home for the rules (scar/build/filters/candidates.py): a sample the filter drops,
    written as a row, is reported by `scar validate` with the same reason."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scar.build.filters.candidates import CandidateChecks
    from scar.build.validate import validate_eval
    from scar.schema import EVAL_SCHEMA, eval_row

    good = sample()
    assert CandidateChecks().keep(good) is True
    s = sample()
    break_it(s)
    kept = CandidateChecks().keep(s)
    assert kept is not True
    path = tmp_path / "SCaR_eval_T.parquet"
    pq.write_table(pa.Table.from_pylist([eval_row(good, "x"), eval_row(s, "x")], schema=EVAL_SCHEMA), path)
    problems = validate_eval(path, None)
    assert {p.row for p in problems} == {1}
    assert problems[0].message.split(": ", 1)[-1] == kept[1] or problems[0].message == kept[1]
