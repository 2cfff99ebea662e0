"""Views of brace languages (and Ruby): every view of a clean file parses clean with the same
grammar, keeps every definition the grammar's own tags query finds outside function bodies,
and the curated view keeps the body of a `[HOT]` function whole."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from slop_tui.memory.brace_languages import BraceRules
from slop_tui.memory.brace_tags import definition_names
from slop_tui.memory.brace_views import build_view, parse
from slop_tui.memory.file_cache import FileCache
from slop_tui.memory.languages import rules_for_path

# (file name, source, a line of the [HOT] body, a line of a hidden body)
FIXTURES: dict[str, tuple[str, str, str, str]] = {
    "typescript": (
        "a.ts",
        """import { readFile } from "fs";
import type { Opts } from "./opts";

/**
 * Adds two numbers.
 * Second line of the doc.
 */
export function add<T extends number>(x: T, y: T): T {
  return (x + y) as T;
}

export function over(a: string): string;
export function over(a: number): number;
export function over(a: any): any {
  return a;
}

// [HOT]
export const hot = async (a: string): Promise<void> => {
  await readFile(a);
  console.log("hot body kept");
};

export const TABLE = [
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

function sealed(constructor: Function) {}

@sealed
export abstract class Store<K, V extends object> extends Base implements Iterable<V> {
  private readonly items = new Map<K, V>();
  static count = 0;
  constructor(private readonly name: string) {
    super();
  }
  get size(): number {
    return this.items.size;
  }
  abstract flush(): Promise<void>;
  put(key: K, value: V): void {
    console.log("hidden body");
    this.items.set(key, value);
  }
  *[Symbol.iterator](): Iterator<V> {
    yield* this.items.values();
  }
}

export interface Shape {
  area(): number;
  readonly name: string;
}
export type Pair<A, B> = [A, B];
export enum Color { Red, Green = "g" }

namespace Outer.Inner {
  export function nested(): void {
    return;
  }
}

declare module "lib" {
  export function ext(x: number): void;
}

const ünïcode = (n: number) => n * 2;
export default class {
  run() { return 1; }
}
console.log(add(1, 2));
""",
        'console.log("hot body kept");',
        'console.log("hidden body");',
    ),
    "tsx": (
        "c.tsx",
        """import React from "react";

type Props = { title: string; items: string[] };

/** A list. */
export function List<T,>({ title, items }: Props): JSX.Element {
  return (
    <ul title={title}>
      {items.map((i) => <li key={i}>hidden jsx</li>)}
    </ul>
  );
}

export const Hot = (p: Props) => { // [HOT]
  return <div className="hot">{p.title}</div>;
};

export class Page extends React.Component<Props> {
  render() {
    return <section>{this.props.title}</section>;
  }
}
""",
        'return <div className="hot">{p.title}</div>;',
        "hidden jsx",
    ),
    "javascript": (
        "b.jsx",
        """const path = require("path");
import def, { a as b } from "./mod.js";

/** Greets. */
export function* gen(a, b = () => { return 1; }) {
  yield "hidden body";
}

module.exports.handler = function (event) {
  return event;
};

export const Comp = ({ name }) => {
  return <div>{name}</div>;
};

/* [HOT] */ async function hot(x) {
  return "hot body kept";
}

class Animal extends Base {
  #secret = 1;
  static create() { return new Animal(); }
  speak() { return `${this.name}`; }
}
""",
        'return "hot body kept";',
        'yield "hidden body";',
    ),
    "go": (
        "a.go",
        """package store

import (
\t"fmt"
\tstrs "strings"
)

// Store keeps values.
// Second line of the doc.
type Store[K comparable, V any] struct {
\titems map[K]V
\tname  string `json:"name"`
}

type Getter interface {
\tGet(key string) (string, error)
}

const (
\tMax = 10
\tName = "store"
)

var Table = []string{
\t"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
\t"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
\t"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
\t"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
\t"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
}

// New makes a store.
func New[K comparable, V any](name string) *Store[K, V] {
\tfmt.Println("hidden body")
\treturn &Store[K, V]{name: name}
}

// [HOT]
func (s *Store[K, V]) Put(key K, value V) {
\ts.items[key] = value
\tfmt.Println(strs.ToUpper("hot body kept"))
}

func (s *Store[K, V]) Größe() int { return len(s.items) }

var handler = func(x int) int {
\treturn x
}
""",
        'fmt.Println(strs.ToUpper("hot body kept"))',
        'fmt.Println("hidden body")',
    ),
    "rust": (
        "a.rs",
        """//! A crate doc.
use std::collections::HashMap;
use std::fmt::{self, Display};

/// A store of values.
/// More doc.
#[derive(Debug, Clone)]
pub struct Store<K: Eq + std::hash::Hash, V> {
    items: HashMap<K, V>,
    pub name: String,
}

pub enum Shape { Circle(f64), Square { side: f64 } }

pub trait Area {
    fn area(&self) -> f64;
    fn describe(&self) -> String {
        format!("area {}", self.area())
    }
}

impl<K: Eq + std::hash::Hash, V> Store<K, V> {
    /// Makes a store.
    pub fn new(name: &str) -> Self {
        println!("hidden body");
        Store { items: HashMap::new(), name: name.to_string() }
    }

    // [HOT]
    #[inline]
    pub fn put(&mut self, key: K, value: V) -> Option<V> {
        println!("hot body kept");
        self.items.insert(key, value)
    }
}

impl Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shape")
    }
}

pub mod inner {
    pub fn nested<'a, T>(x: &'a T) -> &'a T where T: Clone { x }
    pub mod deeper {
        pub const LIMIT: usize = 3;
    }
}

macro_rules! square {
    ($x:expr) => { $x * $x };
}

pub static TABLE: [&str; 3] = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"];

fn größe() -> i32 { 1 }
""",
        'println!("hot body kept");',
        'println!("hidden body");',
    ),
    "java": (
        "A.java",
        """package a.b;

import java.util.*;

/** A store. */
@Deprecated
public class Store<K extends Comparable<K>, V> implements Iterable<V> {
    private final Map<K, V> items = new HashMap<>();
    public static final String[] NAMES = {"a", "b"};

    public Store(String name) {
        System.out.println("hidden body");
    }

    @Override
    public Iterator<V> iterator() { return items.values().iterator(); }

    // [HOT]
    public <T> T put(K key, V value) {
        System.out.println("hot body kept");
        return null;
    }

    public void put(K key) {}

    static class Inner {
        void run() {}
        interface Deep { int get(); }
    }

    enum Kind { A, B { void go() {} }; void go() {} }
}

record Point(int x, int y) {
    Point { if (x < 0) throw new IllegalArgumentException(); }
}
""",
        'System.out.println("hot body kept");',
        'System.out.println("hidden body");',
    ),
    "c": (
        "a.c",
        """#include <stdio.h>
#include "local.h"

#define SQUARE(x) ((x) * (x))

/** A point. */
struct point { int x; int y; };

typedef enum { RED, GREEN } color;

static const char *names[] = { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };

int add(int a, int b) {
    printf("hidden body");
    return a + b;
}

#ifdef FAST
/* [HOT] */
static inline int fast(int a) {
    printf("hot body kept");
    return a;
}
#else
int slow(int a) { return a; }
#endif

void (*callback)(int);
""",
        'printf("hot body kept");',
        'printf("hidden body");',
    ),
    "cpp": (
        "a.h",
        """#pragma once
#include <vector>

namespace outer {
namespace inner {

/// A store.
template <typename K, typename V = int>
class Store : public Base<K> {
public:
    Store() : n(0) { log("hidden body"); }
    ~Store() {}
    // [HOT]
    V get(const K& key) const {
        log("hot body kept");
        return V{};
    }
    template <class T> void visit(T&& t) { t(n); }
    Store& operator=(const Store&) = default;
    struct Node { int value; };
private:
    int n;
};

int free_function(int a);
inline int twice(int a) { return a * 2; }

}  // namespace inner
}  // namespace outer

extern "C" {
int c_api(void) { return 0; }
}
""",
        'log("hot body kept");',
        'log("hidden body");',
    ),
    "csharp": (
        "A.cs",
        """using System;
using System.Collections.Generic;

namespace App.Core
{
    /// <summary>A store.</summary>
    [Serializable]
    public class Store<T> where T : class
    {
        private readonly List<T> items = new();
        public int Count { get { return items.Count; } }

        public Store(string name) { Console.WriteLine("hidden body"); }

        // [HOT]
        public void Add(T item)
        {
            Console.WriteLine("hot body kept");
            items.Add(item);
        }

        public T Get(int i) => items[i];

        public interface IVisitor { void Visit(T item); }
    }

    public record Point(int X, int Y);
    public enum Kind { A, B }
}
""",
        'Console.WriteLine("hot body kept");',
        'Console.WriteLine("hidden body");',
    ),
    "php": (
        "a.php",
        """<?php
namespace App;

use Foo\\Bar;

/** A store. */
#[Attr]
final class Store extends Base implements Countable
{
    private array $items = [];
    const NAME = 'store';

    public function __construct(string $name)
    {
        echo "hidden body";
    }

    // [HOT]
    public function add(mixed $item): void
    {
        echo "hot body kept";
    }

    public static function make(): static { return new static('x'); }
}

interface Shape { public function area(): float; }
trait Greets { public function hi() { return 1; } }

function helper(int $a = 1): int {
    return $a;
}
""",
        'echo "hot body kept";',
        'echo "hidden body";',
    ),
    "ruby": (
        "a.rb",
        """require "json"

# A store.
module App
  class Store < Base
    attr_reader :items

    def initialize(name)
      puts "hidden body"
    end

    # [HOT]
    def add(item)
      puts "hot body kept"
    end

    def self.make; new("x"); end

    class Inner
      def run = 1
    end
  end
end

def helper(a, b = 2, *rest, key:, **opts, &blk)
  a
end
""",
        'puts "hot body kept"',
        'puts "hidden body"',
    ),
}


def _rules(file_name: str) -> BraceRules:
    rules = rules_for_path(file_name)
    assert isinstance(rules, BraceRules), file_name
    return rules


@pytest.mark.parametrize("language", sorted(FIXTURES))
def test_views_parse_clean_and_keep_every_definition(language: str) -> None:
    file_name, source_text, hot_line, hidden_line = FIXTURES[language]
    rules = _rules(file_name)
    assert rules.name == language
    source = source_text.encode()
    assert not parse(source, rules).root_node.has_error, "the fixture itself must parse"
    wanted = Counter(definition_names(source, rules))
    assert len(wanted) >= 3
    for kind in ("skeleton", "curated"):
        view = build_view(source, kind, rules)
        assert view.syntax_problem is None
        data = view.text.encode()
        assert not parse(data, rules).root_node.has_error, f"{kind}:\n{view.text}"
        kept = Counter(definition_names(data, rules))
        assert not wanted - kept, f"{kind} lost {wanted - kept}:\n{view.text}"
        assert hidden_line not in view.text
    skeleton = build_view(source, "skeleton", rules).text
    curated = build_view(source, "curated", rules).text
    assert hot_line not in skeleton
    assert hot_line in curated
    assert rules.hidden_placeholder.decode() in curated
    assert rules.body_placeholder.decode() in skeleton
    assert "[HOT]" not in skeleton  # plain comments are dropped from a skeleton
    assert len(skeleton) < len(source_text)


def test_doc_comment_first_line_and_headers_exact() -> None:
    source = FIXTURES["rust"][1].encode()
    skeleton = build_view(source, "skeleton", _rules("a.rs")).text
    assert "/// A store of values.\n#[derive(Debug, Clone)]\npub struct Store" in skeleton
    assert "/// More doc." not in skeleton
    assert "pub fn nested<'a, T>(x: &'a T) -> &'a T where T: Clone { /* ... */ }" in skeleton
    assert '"aaaa' not in skeleton  # the long table is elided
    curated = build_view(source, "curated", _rules("a.rs")).text
    assert "/// More doc." in curated
    ts = build_view(FIXTURES["typescript"][1].encode(), "skeleton", _rules("a.ts")).text
    assert "/** Adds two numbers. */\nexport function add<T extends number>(x: T, y: T): T" in ts
    assert "export function over(a: string): string;\n" in ts
    go = build_view(FIXTURES["go"][1].encode(), "skeleton", _rules("a.go")).text
    assert "// Store keeps values.\ntype Store[K comparable, V any] struct {" in go
    assert "func (s *Store[K, V]) Put(key K, value V) { /* ... */ }" in go


def test_broken_file_gives_a_best_effort_view_and_a_warning(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ts"
    broken.write_text(
        "export function ok(a: number): number {\n  return a;\n}\n"
        "export function bad(a: number { return a; \n"
        "export class Later { m(): void { go(); } }\n"
    )
    cache = FileCache()
    view = cache.get_view(str(broken), "skeleton")
    assert view.syntax_problem is not None
    assert view.syntax_problem.line >= 1
    assert "export function ok(a: number): number { /* ... */ }" in view.text
    for name in ("a.go", "a.rs", "a.java", "a.c", "a.h", "A.cs", "a.php", "a.rb", "a.js"):
        rules = _rules(name)
        garbage = b"}}{{ fn func def class ( [ <?php \xc3\x28 \x00"
        built = build_view(garbage, "curated", rules)
        assert built.syntax_problem is not None


def test_file_cache_dispatches_by_language(tmp_path: Path) -> None:
    source = tmp_path / "main.go"
    source.write_text(FIXTURES["go"][1])
    cache = FileCache()
    skeleton = cache.get_view(str(source), "skeleton")
    assert "func New[K comparable, V any](name string) *Store[K, V] { /* ... */ }" in skeleton.text
    python = tmp_path / "m.py"
    python.write_text("def f():\n    return 1\n")
    assert "return 1" not in cache.get_view(str(python), "skeleton").text
    assert rules_for_path("x.h") is rules_for_path("x.hpp")
    assert rules_for_path("x.xyz") is None
