"""``scar models``: list the registered embedders."""

from __future__ import annotations



def add_parser(sub, common) -> None:
    sub.add_parser("models", parents=[common], help="list the registered embedders")


def run(args, progress: bool) -> int:
    from scar.eval.embedders import EMBEDDERS, parity_line

    print(f"{'name':<10} {'kind':<7} {'accepts':<11} {'default revision':<46} description")
    for name in EMBEDDERS.names():
        info = EMBEDDERS.info(name)
        desc = info.get("help", "")
        if info.get("variants"):
            desc += f"; variants: {', '.join(info['variants'])}"
        print(f"{name:<10} {info.get('kind', ''):<7} {info.get('accepts', ''):<11} {info.get('revision', ''):<46} {desc}")
        if parity_line(name):
            print(f"{'':<10} {parity_line(name)}")
    print("\nAlso: path/to/file.py:Class for your own scar.eval.embedders.Embedder subclass (revision: a hash of the file).")
    return 0
