"""Zero-shot scene choice with a CLIP or SigLIP checkpoint the user names (``--scene-model``).

The build's ``scene_model`` step (:class:`ZeroShotScenes`) runs before ``compose`` and only where
the evidence leaves the scene generic or undecided: an image without a scene label whose stuff and
objects (``scenes.choose``) give ``indoors``/``outdoors`` or nothing. The image is scored against
the prompts ``"a photo of <scene>"`` (``a kitchen``, ``a railway station``: the scene's caption
phrase without its preposition) of the candidate scenes: those of the decided kind, or every scene
of the vocabulary when the kind is undecided, minus any that a category or stuff class of the
image rules out (a cue of the other kind, ``scenes.ruled_out_by``). The softmax over the
candidates' image-text logits picks the best scene only when its probability beats the
runner-up's by more than ``margin``; otherwise the step abstains and the evidence answer stays
(``indoors``/``outdoors``, or the rejection with its reason). A chosen scene has provenance
``model`` and the same swaps as a scene the evidence chose (other scenes of its kind that the
image's objects and stuff give no vote).

The checkpoint is ``clip:PATH`` or ``siglip:PATH`` (a local folder or a Hub id, loaded with
``transformers`` ``CLIPModel``/``SiglipModel`` and ``AutoProcessor``). It is loaded where the step
runs, once per worker, on first use, and never travels with the step; ``started()`` (in the
building process) reads only its config, so a bad path fails before any work with one line, and
records the checkpoint's revision (the Hub commit, or a sha256 of a local folder's weight files)
for the card.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from scar import lexicon
from scar.build.base import Resources, Step, runs_on_cuda
from scar.build.config import scene_model_spec
from scar.build.steps import scenes
from scar.build.steps.parse import head_noun, parse_phrase
from scar.cache import files_digest
from scar.errors import MissingExtra, ScarUserError
from scar.types import Element, Sample

log = logging.getLogger(__name__)

#: Default margin: the best scene's probability must beat the runner-up's by more than this.
MARGIN = 0.2
PROVENANCE = "model"


def prompt(noun: str) -> str:
    """``kitchen`` -> ``a photo of a kitchen`` (the caption phrase without its preposition)."""
    phrase = lexicon.scene_phrase(noun)
    return "a photo of " + phrase.split(" ", 1)[1]


def weights_digest(folder: Path) -> str | None:
    """sha256 of a local checkpoint folder's weight files (names and bytes, sorted), or None."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin", ".pt"))
    if not files:
        return None
    return "sha256:" + files_digest(files, folder)


class SceneScorer:
    """A loaded CLIP/SigLIP checkpoint: scene probabilities of one picture."""

    def __init__(self, kind: str, path: str, device: str | None = None) -> None:
        try:
            import torch
            from transformers import AutoProcessor, CLIPModel, SiglipModel
        except ImportError as e:
            raise MissingExtra(f"--scene-model needs torch and transformers: pip install 'scar[models]' ({e})") from e
        import multiprocessing

        if multiprocessing.parent_process() is not None:
            # a worker of the local engine's process pool: one intra-op thread, as torch's DataLoader
            # workers do (the workers share the cores, and OpenMP state forked from a parent that
            # already ran torch hangs the child's first parallel region)
            torch.set_num_threads(1)
        cls = CLIPModel if kind == "clip" else SiglipModel
        try:
            self.model = cls.from_pretrained(path)
            self.processor = AutoProcessor.from_pretrained(path)
        except (OSError, ValueError) as e:
            raise ScarUserError(f"--scene-model {kind}:{path}: cannot load it ({str(e).splitlines()[0]})") from None
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = self.model.to(self.device).eval()
        self.kind = kind
        self._text: dict[tuple[str, ...], Any] = {}  # candidate list -> normalised text embeddings

    def _texts(self, nouns: tuple[str, ...]):
        import torch

        if nouns not in self._text:
            pad = "max_length" if self.kind == "siglip" else True  # SigLIP was trained on max-length padding
            enc = self.processor(text=[prompt(n) for n in nouns], return_tensors="pt", padding=pad, truncation=True)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.inference_mode():
                t = _tensor(self.model.get_text_features(**enc))
            self._text[nouns] = t / t.norm(dim=-1, keepdim=True)
        return self._text[nouns]

    def probabilities(self, image, nouns: tuple[str, ...]) -> list[float]:
        """Softmax over the candidates of the scaled image-text similarities (the model's logits)."""
        import torch

        px = self.processor(images=[image.convert("RGB")], return_tensors="pt")["pixel_values"].to(self.device)
        with torch.inference_mode():
            v = _tensor(self.model.get_image_features(pixel_values=px))
            v = v / v.norm(dim=-1, keepdim=True)
            logits = self.model.logit_scale.exp() * v @ self._texts(nouns).T
            if getattr(self.model, "logit_bias", None) is not None:
                logits = logits + self.model.logit_bias
        return [float(x) for x in logits.float().softmax(dim=-1)[0].cpu()]


class ZeroShotScenes(Step):
    """The ``scene_model`` step: a specific scene from a CLIP/SigLIP checkpoint where the evidence
    gives only ``indoors``/``outdoors`` or no scene (see the module doc). ``infer``: whether the
    object categories count as evidence (the ``compose`` step's ``infer_scene``)."""

    name = "scene_model"

    def __init__(self, spec: str, margin: float = MARGIN, *, infer: bool = True, device: str | None = None) -> None:
        try:
            self.kind, self.path = scene_model_spec(spec)
        except ValueError as e:
            raise ScarUserError(str(e)) from None
        if not 0 <= float(margin) <= 1:
            raise ScarUserError(f"--scene-margin is a probability difference in [0, 1], got {margin!r}")
        self.spec, self.margin, self.infer, self.device = f"{self.kind}:{self.path}", float(margin), infer, device
        self.revision: str | None = None
        self._scorer: SceneScorer | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_scorer"] = None  # loaded again where the step runs
        return state

    # -- the declared hooks --------------------------------------------------------------------
    def on_cuda(self) -> bool:
        return runs_on_cuda(self.device)

    def resources(self) -> Resources:
        return Resources(pool=True, gpus=1.0 if self.on_cuda() else 0.0)

    @contextlib.contextmanager
    def _check(self):
        """Read the checkpoint's config (not its weights) before any work: a bad path or Hub id
        is one ScarUserError line; record its revision for the card."""
        try:
            from transformers import AutoConfig
        except ImportError as e:
            raise MissingExtra(f"--scene-model needs torch and transformers: pip install 'scar[models]' ({e})") from e
        local = Path(self.path).expanduser()
        if local.exists() and not local.is_dir():
            raise ScarUserError(f"--scene-model {self.spec}: {local} is not a checkpoint folder")
        try:
            config = AutoConfig.from_pretrained(self.path)
        except (OSError, ValueError) as e:
            raise ScarUserError(f"--scene-model {self.spec}: no {self.kind.upper()} checkpoint there "
                                f"({str(e).splitlines()[0]})") from None
        if config.model_type != self.kind:
            raise ScarUserError(f"--scene-model {self.spec}: the checkpoint is a {config.model_type!r} model, "
                                f"not {self.kind!r}")
        self.revision = (weights_digest(local) if local.is_dir() else None) or getattr(config, "_commit_hash", None)
        yield

    def started(self) -> contextlib.AbstractContextManager:
        return self._check()

    def info(self) -> dict[str, Any]:
        return {"checkpoint": self.spec, "revision": self.revision or "unknown", "margin": self.margin,
                "prompt": "a photo of <scene>", "device": "cuda" if self.on_cuda() else "cpu"}

    @property
    def loaded(self) -> bool:
        """Whether this process has loaded the checkpoint (it never travels with the step)."""
        return self._scorer is not None

    def scorer(self) -> SceneScorer:
        if self._scorer is None:
            self._scorer = SceneScorer(self.kind, self.path, self.device)
        return self._scorer

    # -- the work --------------------------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        self.stats.counters[key] = self.stats.counters.get(key, 0) + n

    def candidates(self, categories: list[str], stuff: list[str]) -> tuple[str | None, list[str]]:
        """(the evidence's generic scene or None, the scenes the model may choose), or (the
        evidence's specific scene, []) when the evidence decides one."""
        choice = scenes.choose(categories, stuff, infer=self.infer)
        if choice.noun is not None and choice.noun not in scenes.GENERIC:
            return choice.noun, []
        kind = choice.noun  # indoor / outdoor / None
        ruled = frozenset().union(*(scenes.ruled_out_by(c) for c in {*categories, *map(scenes.stuff_key, stuff)}))
        pool = [s for s in lexicon.scenes()
                if (kind is None or lexicon.scene_kind(s) == kind) and s not in ruled
                and scenes.kind_conflict(s, categories, stuff) is None]
        return kind, pool

    def pick(self, probs: dict[str, float]) -> str | None:
        """The best scene when its probability beats the runner-up's by more than ``margin``."""
        ranked = sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))
        if len(ranked) < 2:
            return None
        (best, p1), (_, p2) = ranked[0], ranked[1]
        return best if p1 - p2 > self.margin else None

    def run(self, samples: list[Sample]) -> list[Sample]:
        by_image: dict[str, list[Sample]] = {}
        for s in samples:
            by_image.setdefault(s.image_id, []).append(s)
        for group in by_image.values():
            ctx = group[0].context
            if ctx is None or (ctx.scene and ctx.scene.strip()):
                continue
            todo = [s for s in group if s.scene is None and not _phrase_scene(s)]
            if not todo:
                continue
            categories = [e.category for e in ctx.entities]
            stuff = list(ctx.stuff)
            evidence, pool = self.candidates(categories, stuff)
            if not pool:
                self._count("images_decided_by_evidence" if evidence not in (None, *scenes.GENERIC)
                            else "images_without_candidates")
                continue
            from PIL import Image

            with Image.open(ctx.path) as im:
                probs = dict(zip(pool, self.scorer().probabilities(im, tuple(pool))))
            noun = self.pick(probs)
            self._count("images_scored")
            if noun is None:
                self._count("images_abstained")
                continue
            self._count("images_chosen")
            el = Element(lexicon.scene_phrase(noun), PROVENANCE, value=noun)
            for s in todo:
                s.scene = Element(el.text, el.provenance, value=el.value)
            self._count("samples_chosen", len(todo))
        return samples


def _tensor(out):
    """The projected embeddings: recent transformers return a model output (``pooler_output``)."""
    return out.pooler_output if hasattr(out, "pooler_output") else out


def _phrase_scene(s: Sample) -> str | None:
    """The scene the sample's own phrase names (``compose`` prefers it to any inferred scene)."""
    if not s.phrase:
        return None
    ent = s.region_entity()
    own = lexicon.category_sense(s.source, s.region.category, ent.synsets if ent else ())
    cat = own.surface if own else s.region.category
    if head_noun(s.phrase, cat) is None:
        return None
    return parse_phrase(s.phrase, cat).scene
