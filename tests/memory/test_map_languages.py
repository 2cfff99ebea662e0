"""`slop map` over a mixed TypeScript/Go repository shows definitions of both languages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_map_of_a_typescript_and_go_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    files = {
        "web/store.ts": (
            "import { Item } from './item';\n"
            "export class CartStore<T extends Item> {\n"
            "  add(item: T, count: number): void { this.items.push(item); }\n"
            "}\n"
            "export function checkout(cart: CartStore<Item>): Promise<void> { return go(); }\n"
        ),
        "web/item.ts": "export interface Item { sku: string }\nexport type Sku = string;\n",
        "web/app.tsx": "export const App = () => { return <CartView store={new CartStore()} />; };\n",
        "server/cart.go": (
            "package server\n\n"
            "// Cart holds items.\n"
            "type Cart struct { Items []string }\n\n"
            "func (c *Cart) Total(tax float64) float64 { return 0 }\n\n"
            "func NewCart() *Cart { return &Cart{} }\n"
        ),
        "server/main.go": "package server\n\nfunc main() { c := NewCart(); c.Total(0.2) }\n",
    }
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "slop_tui", "map", str(repo), "--tokens", "800"],
        capture_output=True,
        text=True,
        env={**os.environ, "SLOP_CACHE_DIR": str(tmp_path / "cache")},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in (
        "web/store.ts:",
        "class CartStore<T extends Item>",
        "    add(item: T, count: number): void\n",
        "  function checkout(cart: CartStore<Item>): Promise<void>\n",
        "  interface Item\n",
        "server/cart.go:",
        "  Cart struct\n",
        "  func (c *Cart) Total(tax float64) float64\n",
        "  func NewCart() *Cart\n",
        "web/app.tsx:",
        "  App = () =>\n",
    ):
        assert expected in out, f"{expected!r} not in map:\n{out}"


def test_a_worker_gets_the_curated_view_of_a_go_target(tmp_path: Path) -> None:
    from slop_tui.agents.context import assemble_context
    from slop_tui.memory.file_cache import FileCache
    from slop_tui.models import Ticket

    (tmp_path / "cart.go").write_text(
        "package server\n\n"
        "func Total(tax float64) float64 {\n\treturn 1 + tax // hidden\n}\n\n"
        "// [HOT]\nfunc Hot() int {\n\treturn 42 // kept\n}\n"
    )
    ticket = Ticket(id="t1", title="fix cart", target_files=["cart.go"])
    _, user, report = assemble_context(ticket, tmp_path, FileCache(), budget=12000)
    (entry,) = report.files
    assert entry.view == "curated"
    assert "```go\n" in user
    assert "func Total(tax float64) float64 { /* ... Hidden */ }" in user
    assert "return 42 // kept" in user and "// hidden" not in user
