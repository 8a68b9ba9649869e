//! The hooks a product's Python files declare, read statically: the
//! original Meshroom's decorators (`@setup_consumer("events", owns_both=True)`
//! in a product's `setup.py`, `@setup` or `@watch` in an integration's
//! `<topic>_<role>[_pull].py`, …), found by parsing the files with
//! tree-sitter's Python grammar, never by running them. Listings and plug
//! resolution use this view for products without a built adapter, so they
//! agree with the original without a 20-second component build.
//!
//! A decorator is read when its arguments are literals (strings, integers,
//! `True`, `False`, `None`) or module-level names bound to one. What cannot
//! be read that way — another expression, an argument the original's
//! decorator does not have, a decorator in a file where the original refuses
//! it, a file that does not parse — is a problem (line, column, what to
//! change) and declares nothing, as a module that fails to import registers
//! no hook in the original.
//!
//! It must not execute Python, and reads nothing but the text it is given:
//! reading (and caching) the files is the project reader's job.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tree_sitter::{Node, Parser};

use super::capability::{Mode, Role};
use super::error::Result;
use super::hooks::{DeclaredHook, HookKind, HookOrder};
use super::integration::{IntegrationFileName, parse_file_stem};
use super::product::Product;
use super::reader::Reader;

/// Where a Python file sits in a product folder, which decides the scope of
/// its hooks.
#[derive(Debug, Clone, Copy)]
pub enum Location<'a> {
    /// `products/<product>/<module>.py`: product-level hooks (no target).
    Product { product: &'a str, module: &'a str },
    /// `products/<product>/integrations/<target>/<topic>_<role>[_pull].py`:
    /// the hooks of that integration (`None`: a name that is not one).
    Integration {
        product: &'a str,
        target: &'a str,
        module: &'a str,
        name: Option<&'a IntegrationFileName>,
    },
}

/// What one Python file declares: what the project reader caches per file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PythonHooks {
    pub hooks: Vec<DeclaredHook>,
    pub problems: Vec<PythonProblem>,
}

/// Something in a hook file that could not be read statically (1-based
/// line and column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PythonProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The decorators of `meshroom.decorators`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decorator {
    /// `setup_<role>` / `teardown_<role>`: product-level, role fixed.
    Lifecycle(HookKind, Role),
    /// `scaffold_<role>`: product-level.
    Scaffold(Role),
    /// `watch`, `produce`, `trigger`, `execute`, `publish`, and meshroom's
    /// own `check`: in a product's file or an integration's.
    Exercise(HookKind),
    /// `pull`: product-level, no scope.
    Pull,
    /// `setup` / `teardown`: an integration's file only.
    IntegrationStep(HookKind),
}

const ROLE_SUFFIXES: [(&str, Role); 4] = [
    ("consumer", Role::Consumer),
    ("producer", Role::Producer),
    ("trigger", Role::Trigger),
    ("executor", Role::Executor),
];

impl Decorator {
    fn from_name(name: &str) -> Option<Decorator> {
        let role_of = |suffix: &str| {
            ROLE_SUFFIXES
                .iter()
                .find(|(s, _)| *s == suffix)
                .map(|(_, r)| *r)
        };
        if let Some(r) = name.strip_prefix("setup_").and_then(role_of) {
            return Some(Decorator::Lifecycle(HookKind::Setup, r));
        }
        if let Some(r) = name.strip_prefix("teardown_").and_then(role_of) {
            return Some(Decorator::Lifecycle(HookKind::Teardown, r));
        }
        if let Some(r) = name.strip_prefix("scaffold_").and_then(role_of) {
            return Some(Decorator::Scaffold(r));
        }
        Some(match name {
            "watch" => Decorator::Exercise(HookKind::Watch),
            "produce" => Decorator::Exercise(HookKind::Produce),
            "trigger" => Decorator::Exercise(HookKind::Trigger),
            "execute" => Decorator::Exercise(HookKind::Execute),
            "publish" => Decorator::Exercise(HookKind::Publish),
            "check" => Decorator::Exercise(HookKind::Check),
            "pull" => Decorator::Pull,
            "setup" => Decorator::IntegrationStep(HookKind::Setup),
            "teardown" => Decorator::IntegrationStep(HookKind::Teardown),
            _ => return None,
        })
    }

    /// The parameters in the original's order (positional arguments bind
    /// to them in that order).
    fn params(self) -> &'static [&'static str] {
        match self {
            Decorator::Lifecycle(..) => &[
                "topic",
                "title",
                "mode",
                "format",
                "keep_when_overloaded",
                "order",
                "owns_both",
            ],
            Decorator::Scaffold(_) => &["topic", "mode", "format", "order"],
            Decorator::Exercise(HookKind::Publish | HookKind::Check) => {
                &["topic", "role", "mode", "format"]
            }
            Decorator::Exercise(_) => &["topic", "mode", "format"],
            Decorator::Pull => &["title", "order"],
            Decorator::IntegrationStep(HookKind::Setup) => {
                &["title", "format", "order", "owns_both"]
            }
            Decorator::IntegrationStep(_) => &["title", "order", "owns_both"],
        }
    }

    /// The role of a product-level hook of this decorator, as the original
    /// records it (`@produce` in a product's file is a consumer's hook: the
    /// consumer emulates the data it receives).
    fn product_role(self) -> Option<Role> {
        match self {
            Decorator::Lifecycle(_, r) | Decorator::Scaffold(r) => Some(r),
            Decorator::Exercise(HookKind::Watch | HookKind::Produce) => Some(Role::Consumer),
            Decorator::Exercise(HookKind::Trigger) => Some(Role::Trigger),
            Decorator::Exercise(HookKind::Execute) => Some(Role::Executor),
            _ => None,
        }
    }

    /// The integration role an exercise decorator needs in an
    /// integration's file.
    fn integration_role(self) -> Option<Role> {
        match self {
            Decorator::Exercise(HookKind::Watch) => Some(Role::Consumer),
            Decorator::Exercise(HookKind::Produce) => Some(Role::Producer),
            Decorator::Exercise(HookKind::Trigger) => Some(Role::Trigger),
            Decorator::Exercise(HookKind::Execute) => Some(Role::Executor),
            _ => None,
        }
    }

    fn kind(self) -> HookKind {
        match self {
            Decorator::Lifecycle(k, _) | Decorator::Exercise(k) | Decorator::IntegrationStep(k) => {
                k
            }
            Decorator::Scaffold(_) => HookKind::Scaffold,
            Decorator::Pull => HookKind::Pull,
        }
    }
}

/// A literal value of a decorator argument.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
}

impl Literal {
    fn type_name(&self) -> &'static str {
        match self {
            Literal::Str(_) => "a string",
            Literal::Int(_) => "an integer",
            Literal::Bool(_) => "a boolean",
            Literal::None => "None",
        }
    }
}

/// How `meshroom.decorators` is reachable in a module: names imported from
/// it, and the names the module itself is bound to.
#[derive(Default)]
struct Imports {
    /// local name → decorator name.
    names: Vec<(String, String)>,
    /// `from meshroom.decorators import *`.
    star: bool,
    /// Dotted names that denote the module (`meshroom.decorators`, `d`).
    modules: Vec<String>,
}

impl Imports {
    fn record(&mut self, node: Node<'_>, src: &[u8]) {
        const MODULE: &str = "meshroom.decorators";
        match node.kind() {
            "import_from_statement" => {
                let Some(module) = node.child_by_field_name("module_name") else {
                    return;
                };
                let module = text(module, src);
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "wildcard_import" && module == MODULE {
                        self.star = true;
                    }
                }
                let mut cursor = node.walk();
                for name in node.children_by_field_name("name", &mut cursor) {
                    let (imported, local) = aliased(name, src);
                    if module == MODULE {
                        self.names.push((local, imported));
                    } else if module == "meshroom" && imported == "decorators" {
                        self.modules.push(local);
                    }
                }
            }
            "import_statement" => {
                let mut cursor = node.walk();
                for name in node.children_by_field_name("name", &mut cursor) {
                    let (imported, local) = aliased(name, src);
                    if imported == MODULE {
                        // `import meshroom.decorators` binds `meshroom`;
                        // the module is reached by its dotted name.
                        self.modules.push(if name.kind() == "aliased_import" {
                            local
                        } else {
                            MODULE.to_string()
                        });
                    } else if imported == "meshroom" {
                        self.modules.push(format!("{local}.decorators"));
                    }
                }
            }
            _ => {}
        }
    }

    /// The decorator a callee expression (`setup_consumer`,
    /// `decorators.setup`, …) names, if it is one of `meshroom.decorators`.
    fn resolve(&self, callee: &str) -> Option<String> {
        if let Some((_, name)) = self.names.iter().rev().find(|(l, _)| l == callee) {
            return Some(name.clone());
        }
        if let Some((module, name)) = callee.rsplit_once('.') {
            return self
                .modules
                .iter()
                .any(|m| m == module)
                .then(|| name.to_string());
        }
        (self.star && Decorator::from_name(callee).is_some()).then(|| callee.to_string())
    }
}

/// `(imported name, local name)` of a `dotted_name` or `aliased_import`.
fn aliased(node: Node<'_>, src: &[u8]) -> (String, String) {
    if node.kind() == "aliased_import" {
        let name = node
            .child_by_field_name("name")
            .map(|n| text(n, src).to_string())
            .unwrap_or_default();
        let alias = node
            .child_by_field_name("alias")
            .map(|n| text(n, src).to_string())
            .unwrap_or_else(|| name.clone());
        (name, alias)
    } else {
        let name = text(node, src).to_string();
        (name.clone(), name)
    }
}

fn text<'s>(node: Node<'_>, src: &'s [u8]) -> &'s str {
    node.utf8_text(src).unwrap_or("")
}

/// One parse: the module's imports and constants as they stand at each
/// point, and what was found.
struct Reading<'s, 'l> {
    src: &'s [u8],
    location: Location<'l>,
    imports: Imports,
    /// Module-level names bound to a literal, as they stand so far.
    constants: Vec<(String, Literal)>,
    out: PythonHooks,
}

/// Reads the hooks `source` declares, as the file at `location`.
pub fn parse(source: &[u8], location: Location<'_>) -> PythonHooks {
    let mut out = PythonHooks::default();
    let problem = |line, column, message: String| PythonProblem {
        line,
        column,
        message,
    };
    if std::str::from_utf8(source).is_err() {
        out.problems.push(problem(
            1,
            1,
            "not UTF-8 text: Python reads source files as UTF-8".to_string(),
        ));
        return out;
    }
    let mut parser = Parser::new();
    if let Err(e) = parser.set_language(&tree_sitter_python::LANGUAGE.into()) {
        out.problems.push(problem(
            1,
            1,
            format!("cannot load the Python grammar: {e}"),
        ));
        return out;
    }
    let Some(tree) = parser.parse(source, None) else {
        out.problems
            .push(problem(1, 1, "the Python parser gave up".to_string()));
        return out;
    };
    let root = tree.root_node();
    if root.has_error() {
        let at = first_error(root).unwrap_or(root);
        let pos = at.start_position();
        out.problems.push(problem(
            pos.row + 1,
            pos.column + 1,
            "syntax error: this file declares no hook until it parses (check it with `python3 -m py_compile`)"
                .to_string(),
        ));
        return out;
    }
    if let Location::Integration { name: None, .. } = location {
        out.problems.push(problem(
            1,
            1,
            "an integration's hook file must be named <topic>_<role>[_<format>][_pull].py with role producer, consumer, trigger or executor"
                .to_string(),
        ));
        return out;
    }
    let mut reading = Reading {
        src: source,
        location,
        imports: Imports::default(),
        constants: Vec::new(),
        out,
    };
    reading.block(root, true);
    reading.out
}

/// The first syntax error (or missing token) in document order.
fn first_error(node: Node<'_>) -> Option<Node<'_>> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if child.has_error()
            && let Some(e) = first_error(child)
        {
            return Some(e);
        }
    }
    None
}

impl Reading<'_, '_> {
    fn problem(&mut self, node: Node<'_>, message: String) {
        let pos = node.start_position();
        self.out.problems.push(PythonProblem {
            line: pos.row + 1,
            column: pos.column + 1,
            message,
        });
    }

    /// The statements of a block as they run on import: imports and
    /// constants (at module level), decorated definitions, and the blocks
    /// of compound statements; never the body of a function (not run on
    /// import).
    fn block(&mut self, node: Node<'_>, module_level: bool) {
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
        for child in children {
            match child.kind() {
                "import_statement" | "import_from_statement" => {
                    self.imports.record(child, self.src)
                }
                "expression_statement" if module_level => self.assignment(child),
                "decorated_definition" => self.decorated(child),
                "function_definition" => {}
                "class_definition" => {
                    if let Some(body) = child.child_by_field_name("body") {
                        self.block(body, false);
                    }
                }
                "if_statement" | "try_statement" | "with_statement" | "block" | "else_clause"
                | "elif_clause" | "except_clause" | "finally_clause" => {
                    self.block(child, module_level)
                }
                _ => {}
            }
        }
    }

    /// `NAME = <literal>` at module level binds a constant; any other
    /// binding of NAME forgets it.
    fn assignment(&mut self, statement: Node<'_>) {
        let mut cursor = statement.walk();
        let assignments: Vec<Node<'_>> = statement
            .named_children(&mut cursor)
            .filter(|n| n.kind() == "assignment")
            .collect();
        for a in assignments {
            let Some(left) = a.child_by_field_name("left") else {
                continue;
            };
            if left.kind() != "identifier" {
                continue;
            }
            let name = text(left, self.src).to_string();
            self.constants.retain(|(n, _)| *n != name);
            let value = a
                .child_by_field_name("right")
                .and_then(|r| self.literal(r).ok());
            if let Some(v) = value {
                self.constants.push((name, v));
            }
        }
    }

    fn decorated(&mut self, node: Node<'_>) {
        let Some(definition) = node.child_by_field_name("definition") else {
            return;
        };
        if definition.kind() == "class_definition" {
            if let Some(body) = definition.child_by_field_name("body") {
                self.block(body, false);
            }
            return;
        }
        let function = definition
            .child_by_field_name("name")
            .map(|n| text(n, self.src).to_string())
            .unwrap_or_default();
        let docstring = definition
            .child_by_field_name("body")
            .and_then(|b| self.docstring(b));
        let mut cursor = node.walk();
        let decorators: Vec<Node<'_>> = node
            .named_children(&mut cursor)
            .filter(|n| n.kind() == "decorator")
            .collect();
        // Python applies the decorators from the bottom up: that is the
        // order the SDK registers (and numbers) the hooks in.
        for d in decorators.into_iter().rev() {
            let Some(expr) = d.named_child(0) else {
                continue;
            };
            let (callee, args) = match expr.kind() {
                "call" => (
                    expr.child_by_field_name("function"),
                    expr.child_by_field_name("arguments"),
                ),
                _ => (Some(expr), None),
            };
            let Some(callee) = callee else { continue };
            let Some(name) = self.imports.resolve(text(callee, self.src)) else {
                continue;
            };
            let Some(decorator) = Decorator::from_name(&name) else {
                self.problem(
                    d,
                    format!("`meshroom.decorators` has no decorator `{name}`"),
                );
                continue;
            };
            let Some(args) = args else {
                self.problem(
                    d,
                    format!(
                        "`@{name}` must be called, as in `@{name}(...)`: without the parentheses it declares no hook"
                    ),
                );
                continue;
            };
            if args.kind() != "argument_list" {
                self.problem(args, format!("`@{name}` takes arguments, not a generator"));
                continue;
            }
            if let Some(mut hook) =
                self.hook(decorator, &name, args, &function, docstring.as_deref())
            {
                // A function declaring several hooks (or defined again)
                // gets `#2`, `#3`, … as in the SDK.
                let base = hook.id.clone();
                let mut n = 1;
                while self.out.hooks.iter().any(|h| h.id == hook.id) {
                    n += 1;
                    hook.id = format!("{base}#{n}");
                }
                self.out.hooks.push(hook);
            }
        }
    }

    /// The cleaned docstring of a function body (`inspect.getdoc`).
    fn docstring(&self, body: Node<'_>) -> Option<String> {
        let first = body.named_child(0)?;
        if first.kind() != "expression_statement" {
            return None;
        }
        let s = first.named_child(0)?;
        if !matches!(s.kind(), "string" | "concatenated_string") {
            return None;
        }
        match self.literal(s) {
            Ok(Literal::Str(doc)) => Some(clean_doc(&doc)).filter(|d| !d.is_empty()),
            _ => None,
        }
    }

    /// The hook one decorator call declares, or a problem.
    fn hook(
        &mut self,
        decorator: Decorator,
        name: &str,
        args: Node<'_>,
        function: &str,
        docstring: Option<&str>,
    ) -> Option<DeclaredHook> {
        let params = decorator.params();
        let mut values: Vec<(&'static str, Literal, Node<'_>)> = Vec::new();
        let mut positional = 0;
        let mut cursor = args.walk();
        let items: Vec<Node<'_>> = args.named_children(&mut cursor).collect();
        for item in items {
            let (param, value_node) = match item.kind() {
                "comment" => continue,
                "keyword_argument" => {
                    let key = item
                        .child_by_field_name("name")
                        .map(|n| text(n, self.src))
                        .unwrap_or("");
                    let Some(&param) = params.iter().find(|p| **p == key) else {
                        self.problem(
                            item,
                            format!(
                                "`@{name}` has no argument `{key}` (it takes {})",
                                params.join(", ")
                            ),
                        );
                        return None;
                    };
                    (param, item.child_by_field_name("value")?)
                }
                "list_splat" | "dictionary_splat" | "parenthesized_list_splat" => {
                    self.problem(
                        item,
                        format!(
                            "`@{name}`: write its arguments out as literals; meshroom reads hooks without running Python"
                        ),
                    );
                    return None;
                }
                _ => {
                    let Some(&param) = params.get(positional) else {
                        self.problem(
                            item,
                            format!(
                                "`@{name}` takes at most {} positional arguments ({})",
                                params.len(),
                                params.join(", ")
                            ),
                        );
                        return None;
                    };
                    positional += 1;
                    (param, item)
                }
            };
            if values.iter().any(|(p, _, _)| *p == param) {
                self.problem(item, format!("`@{name}`: `{param}` is given twice"));
                return None;
            }
            match self.literal(value_node) {
                Ok(v) => values.push((param, v, value_node)),
                Err(()) => {
                    self.problem(
                        value_node,
                        format!(
                            "`@{name}`: `{param}` must be a literal (a string, an integer, True, False or None) or a module-level name bound to one; meshroom reads hooks without running Python"
                        ),
                    );
                    return None;
                }
            }
        }
        let get = |p: &str| values.iter().find(|(q, _, _)| *q == p);
        let mut fields = Fields::default();
        for (param, value, node) in &values {
            if let Err(expected) = fields.set(param, value) {
                let got = value.type_name();
                self.problem(
                    *node,
                    format!("`@{name}`: `{param}` must be {expected}, not {got}"),
                );
                return None;
            }
        }
        if matches!(
            decorator,
            Decorator::Exercise(HookKind::Watch | HookKind::Produce)
        ) && get("topic").is_none()
        {
            self.problem(
                args,
                format!("`@{name}` needs a topic, as in `@{name}(\"events\")`"),
            );
            return None;
        }
        let title = fields
            .title
            .clone()
            .or_else(|| docstring.map(str::to_string))
            .unwrap_or_else(|| function.to_string());
        let (keep, owns_both) = match decorator {
            Decorator::Lifecycle(..) => (fields.keep_when_overloaded, fields.owns_both),
            Decorator::IntegrationStep(_) => (true, fields.owns_both),
            _ => (true, false),
        };
        let mut hook = DeclaredHook {
            id: String::new(),
            title,
            kind: decorator.kind(),
            product: String::new(),
            target_product: None,
            role: None,
            topic: None,
            mode: None,
            format: fields.format.clone(),
            owns_both,
            keep_when_overloaded: keep,
            order: fields.order,
        };
        match self.location {
            Location::Product { product, module } => {
                if let Decorator::IntegrationStep(_) = decorator {
                    self.problem(
                        args,
                        format!(
                            "`@{name}` belongs in an integration's file (products/<product>/integrations/<target>/<topic>_<role>.py); in a product's file use `@{name}_<role>(topic)`"
                        ),
                    );
                    return None;
                }
                hook.id = format!("{module}.{function}");
                hook.product = product.to_string();
                hook.role = match decorator {
                    Decorator::Exercise(HookKind::Publish | HookKind::Check) => fields.role,
                    _ => decorator.product_role(),
                };
                hook.topic = fields.topic.clone();
                hook.mode = fields.mode;
            }
            Location::Integration {
                product,
                target,
                module,
                name: Some(integration),
            } => {
                match decorator {
                    Decorator::Lifecycle(..) | Decorator::Scaffold(_) | Decorator::Pull => {
                        self.problem(
                            args,
                            format!(
                                "`@{name}` belongs in the product's own files (products/{product}/*.py), not in an integration's"
                            ),
                        );
                        return None;
                    }
                    _ => {}
                }
                if let Some(role) = decorator.integration_role()
                    && role != integration.role
                {
                    self.problem(
                        args,
                        format!(
                            "`@{name}` belongs in a {role} integration's file, and this one is a {} integration's",
                            integration.role
                        ),
                    );
                    return None;
                }
                hook.id = format!("integrations.{target}.{module}.{function}");
                hook.product = product.to_string();
                hook.target_product = Some(target.to_string());
                hook.role = Some(integration.role);
                hook.topic = Some(integration.topic.clone());
                hook.mode = Some(integration.mode);
                if hook.format.is_none() {
                    hook.format.clone_from(&integration.format);
                }
            }
            Location::Integration { name: None, .. } => return None,
        }
        Some(hook)
    }

    /// The literal `node` denotes: a string (plain or concatenated, no
    /// interpolation), an integer, `True`, `False`, `None`, a negated
    /// integer, or a module-level constant.
    fn literal(&self, node: Node<'_>) -> Result<Literal, ()> {
        match node.kind() {
            "string" => string_literal(node, self.src).map(Literal::Str),
            "concatenated_string" => {
                let mut out = String::new();
                let mut cursor = node.walk();
                for part in node.named_children(&mut cursor) {
                    match part.kind() {
                        "string" => out.push_str(&string_literal(part, self.src)?),
                        "comment" => {}
                        _ => return Err(()),
                    }
                }
                Ok(Literal::Str(out))
            }
            "integer" => int_literal(text(node, self.src)).map(Literal::Int),
            "true" => Ok(Literal::Bool(true)),
            "false" => Ok(Literal::Bool(false)),
            "none" => Ok(Literal::None),
            "unary_operator" => {
                let op = node
                    .child_by_field_name("operator")
                    .map(|o| text(o, self.src));
                let arg = node.child_by_field_name("argument").ok_or(())?;
                match (op, self.literal(arg)?) {
                    (Some("-"), Literal::Int(i)) => i.checked_neg().map(Literal::Int).ok_or(()),
                    (Some("+"), Literal::Int(i)) => Ok(Literal::Int(i)),
                    _ => Err(()),
                }
            }
            "parenthesized_expression" => self.literal(node.named_child(0).ok_or(())?),
            "identifier" => self
                .constants
                .iter()
                .rev()
                .find(|(n, _)| n == text(node, self.src))
                .map(|(_, v)| v.clone())
                .ok_or(()),
            _ => Err(()),
        }
    }
}

/// The decorator arguments that shape a hook, checked for type.
#[derive(Default)]
struct Fields {
    topic: Option<String>,
    title: Option<String>,
    mode: Option<Mode>,
    format: Option<String>,
    role: Option<Role>,
    order: HookOrder,
    owns_both: bool,
    keep_when_overloaded: bool,
}

impl Fields {
    /// Sets `param`; `Err` names what it must be.
    fn set(&mut self, param: &str, value: &Literal) -> Result<(), &'static str> {
        let text = |v: &Literal| match v {
            Literal::Str(s) => Ok(Some(s.clone())),
            Literal::None => Ok(None),
            _ => Err("a string or None"),
        };
        match param {
            "topic" => self.topic = text(value)?,
            "title" => self.title = text(value)?,
            "format" => self.format = text(value)?,
            "mode" => {
                self.mode = match text(value).map_err(|_| "\"push\", \"pull\" or None")? {
                    None => None,
                    Some(m) => Some(m.parse().map_err(|_| "\"push\", \"pull\" or None")?),
                }
            }
            "role" => {
                const ROLES: &str = "\"producer\", \"consumer\", \"trigger\", \"executor\" or None";
                self.role = match text(value).map_err(|_| ROLES)? {
                    None => None,
                    Some(r) => Some(r.parse().map_err(|_| ROLES)?),
                }
            }
            "order" => {
                const ORDER: &str = "\"first\", \"last\", an integer or None";
                self.order = match value {
                    Literal::None => HookOrder::Unordered,
                    Literal::Int(i) => HookOrder::At(*i),
                    Literal::Str(s) if s == "first" => HookOrder::First,
                    Literal::Str(s) if s == "last" => HookOrder::Last,
                    _ => return Err(ORDER),
                }
            }
            "owns_both" | "keep_when_overloaded" => {
                let Literal::Bool(b) = value else {
                    return Err("True or False");
                };
                if param == "owns_both" {
                    self.owns_both = *b;
                } else {
                    self.keep_when_overloaded = *b;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The value of a `string` node without interpolation; bytes literals are
/// not strings.
fn string_literal(node: Node<'_>, src: &[u8]) -> Result<String, ()> {
    let mut cursor = node.walk();
    if node
        .named_children(&mut cursor)
        .any(|c| c.kind() == "interpolation")
    {
        return Err(());
    }
    let raw = text(node, src);
    let quote_at = raw.find(['\'', '"']).ok_or(())?;
    let prefix = raw[..quote_at].to_ascii_lowercase();
    if prefix.contains('b') {
        return Err(());
    }
    let body = &raw[quote_at..];
    let q = if body.starts_with("\"\"\"") || body.starts_with("'''") {
        3
    } else {
        1
    };
    if body.len() < 2 * q {
        return Err(());
    }
    let inner = &body[q..body.len() - q];
    let mut s = if prefix.contains('r') {
        inner.to_string()
    } else {
        unescape(inner)?
    };
    if prefix.contains('f') {
        s = s.replace("{{", "{").replace("}}", "}");
    }
    Ok(s)
}

/// Python's escape sequences in a non-raw string (`\N{…}` is refused: its
/// names are not known here).
fn unescape(s: &str) -> Result<String, ()> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
            let h: String = chars.by_ref().take(n).collect();
            if h.len() != n {
                return Err(());
            }
            u32::from_str_radix(&h, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or(())
        };
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'x' => out.push(hex(&mut chars, 2)?),
            'u' => out.push(hex(&mut chars, 4)?),
            'U' => out.push(hex(&mut chars, 8)?),
            'N' => return Err(()),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).ok_or(())?);
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// An integer literal (`12`, `1_000`, `0x1f`, `0o7`, `0b1`).
fn int_literal(s: &str) -> Result<i64, ()> {
    let s = s.replace('_', "");
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d.to_string(), 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d.to_string(), 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d.to_string(), 2)
    } else {
        (lower, 10)
    };
    i64::from_str_radix(&digits, radix).map_err(|_| ())
}

/// `inspect.cleandoc`: leading and trailing blank lines removed, the first
/// line stripped, the others dedented by their common indentation.
fn clean_doc(doc: &str) -> String {
    let doc = doc.replace('\t', "        ");
    let lines: Vec<&str> = doc.lines().collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            out.push(line.trim_start().to_string());
        } else {
            out.push(line.get(indent..).unwrap_or("").trim_end().to_string());
        }
    }
    while out.first().is_some_and(|l| l.trim().is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// A `PythonProblem` in a given file, as the project reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonFileProblem {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for PythonFileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Reads the hooks `product`'s Python files declare (`product.python_files`:
/// its own `*.py`, then its integrations' `*.py`), through `reader` so an
/// unchanged file is not parsed again.
pub(super) fn read_product(
    reader: &mut Reader<'_>,
    product: &Product,
    hooks: &mut Vec<DeclaredHook>,
    problems: &mut Vec<PythonFileProblem>,
) -> Result<()> {
    for path in &product.python_files {
        let module = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = path.parent().unwrap_or(Path::new(""));
        let parsed = if parent == product.dir {
            reader.read_parsed(path, |src| {
                parse(
                    src,
                    Location::Product {
                        product: &product.name,
                        module: &module,
                    },
                )
            })?
        } else {
            let target = super::instance::file_name(parent);
            let name = parse_file_stem(&module);
            reader.read_parsed(path, |src| {
                parse(
                    src,
                    Location::Integration {
                        product: &product.name,
                        target: &target,
                        module: &module,
                        name: name.as_ref(),
                    },
                )
            })?
        };
        hooks.extend(parsed.hooks);
        problems.extend(parsed.problems.into_iter().map(|p| PythonFileProblem {
            path: path.clone(),
            line: p.line,
            column: p.column,
            message: p.message,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(src: &str) -> PythonHooks {
        parse(
            src.as_bytes(),
            Location::Product {
                product: "siem",
                module: "setup",
            },
        )
    }

    fn integration(stem: &str, src: &str) -> PythonHooks {
        let name = parse_file_stem(stem);
        parse(
            src.as_bytes(),
            Location::Integration {
                product: "siem",
                target: "edr",
                module: stem,
                name: name.as_ref(),
            },
        )
    }

    #[test]
    fn a_mode_less_setup_hook_of_a_product() {
        let got = product(
            r#"
from meshroom.decorators import setup_consumer
from meshroom.model import Integration, Plug

@setup_consumer("events", order="first", owns_both=True)
def setup_events(integration: Integration, plug: Plug):
    """Create a collector
    for the events.
    """
    pass
"#,
        );
        assert_eq!(got.problems, []);
        let h = &got.hooks[0];
        assert_eq!(h.id, "setup.setup_events");
        assert_eq!(h.kind, HookKind::Setup);
        assert_eq!(h.product, "siem");
        assert_eq!(h.target_product, None);
        assert_eq!(h.role, Some(Role::Consumer));
        assert_eq!(h.topic.as_deref(), Some("events"));
        assert_eq!(h.mode, None);
        assert_eq!(h.order, HookOrder::First);
        assert!(h.owns_both && !h.keep_when_overloaded);
        assert_eq!(h.title, "Create a collector\nfor the events.");
    }

    #[test]
    fn check_hooks_and_stacked_decorators_are_numbered_as_the_sdk_does() {
        let got = product(
            r#"
from meshroom.decorators import check, execute

@check("events", role="consumer")
def webhook_exists(plug):
    return True

@execute("block_ip")
@execute("unblock_ip")
def command(instance, data):
    pass
"#,
        );
        assert_eq!(got.problems, []);
        let seen: Vec<(&str, HookKind, Option<&str>, Option<Role>)> = got
            .hooks
            .iter()
            .map(|h| (h.id.as_str(), h.kind, h.topic.as_deref(), h.role))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "setup.webhook_exists",
                    HookKind::Check,
                    Some("events"),
                    Some(Role::Consumer)
                ),
                // Applied from the bottom up, numbered in that order.
                (
                    "setup.command",
                    HookKind::Execute,
                    Some("unblock_ip"),
                    Some(Role::Executor)
                ),
                (
                    "setup.command#2",
                    HookKind::Execute,
                    Some("block_ip"),
                    Some(Role::Executor)
                ),
            ]
        );
    }

    #[test]
    fn every_decorator_and_import_form() {
        let got = product(
            r#"
import meshroom.decorators
from meshroom import decorators as d
from meshroom.decorators import watch as w, pull
TOPIC = "alerts"
FORMAT = 'ec' "s"

@meshroom.decorators.setup_producer(TOPIC, "Ship alerts", "pull", FORMAT, True, 3)
def a(): ...

@d.teardown_executor(topic="deny", mode=None, order=-2)
def b(): ...

@w("events", format=None)
def c(): ...

@pull(title=None, order="last")
def e(): ...

@d.produce("events")
def f(): ...

@d.publish(role="producer", topic="events")
def g(): ...

@d.scaffold_trigger(mode="push")
def h(): ...

if True:
    class K:
        @d.execute("deny", format="ip")
        def m(self): ...

def not_run_on_import():
    @d.setup_consumer("never")
    def inner(): ...

@some_other_decorator
@functools.cache
def untouched(): ...
"#,
        );
        assert_eq!(got.problems, []);
        let scope: Vec<_> = got
            .hooks
            .iter()
            .map(|h| {
                (
                    h.id.as_str(),
                    h.kind,
                    h.role,
                    h.topic.as_deref(),
                    h.mode,
                    h.format.as_deref(),
                    h.order,
                    h.keep_when_overloaded,
                    h.title.as_str(),
                )
            })
            .collect();
        use HookKind::*;
        assert_eq!(
            scope,
            [
                (
                    "setup.a",
                    Setup,
                    Some(Role::Producer),
                    Some("alerts"),
                    Some(Mode::Pull),
                    Some("ecs"),
                    HookOrder::At(3),
                    true,
                    "Ship alerts"
                ),
                (
                    "setup.b",
                    Teardown,
                    Some(Role::Executor),
                    Some("deny"),
                    None,
                    None,
                    HookOrder::At(-2),
                    false,
                    "b"
                ),
                (
                    "setup.c",
                    Watch,
                    Some(Role::Consumer),
                    Some("events"),
                    None,
                    None,
                    HookOrder::Unordered,
                    true,
                    "c"
                ),
                (
                    "setup.e",
                    Pull,
                    None,
                    None,
                    None,
                    None,
                    HookOrder::Last,
                    true,
                    "e"
                ),
                (
                    "setup.f",
                    Produce,
                    Some(Role::Consumer),
                    Some("events"),
                    None,
                    None,
                    HookOrder::Unordered,
                    true,
                    "f"
                ),
                (
                    "setup.g",
                    Publish,
                    Some(Role::Producer),
                    Some("events"),
                    None,
                    None,
                    HookOrder::Unordered,
                    true,
                    "g"
                ),
                (
                    "setup.h",
                    Scaffold,
                    Some(Role::Trigger),
                    None,
                    Some(Mode::Push),
                    None,
                    HookOrder::Unordered,
                    true,
                    "h"
                ),
                (
                    "setup.m",
                    Execute,
                    Some(Role::Executor),
                    Some("deny"),
                    None,
                    Some("ip"),
                    HookOrder::Unordered,
                    true,
                    "m"
                ),
            ]
        );
    }

    #[test]
    fn integration_hooks_take_their_scope_from_the_file_name() {
        let got = integration(
            "events_consumer_ecs_pull",
            r#"
from meshroom.decorators import setup, teardown, watch

@setup("Create the feed", owns_both=True)
def up(): ...

@teardown(order=1)
def down(): ...

@watch("ignored: the integration's topic counts")
def look(): ...
"#,
        );
        assert_eq!(got.problems, []);
        for h in &got.hooks {
            assert_eq!(h.target_product.as_deref(), Some("edr"));
            assert_eq!(h.role, Some(Role::Consumer));
            assert_eq!(h.topic.as_deref(), Some("events"));
            assert_eq!(h.mode, Some(Mode::Pull));
            assert_eq!(h.format.as_deref(), Some("ecs"));
            assert!(h.keep_when_overloaded);
        }
        assert_eq!(
            got.hooks[0].id,
            "integrations.edr.events_consumer_ecs_pull.up"
        );
        assert!(got.hooks[0].owns_both);
        assert_eq!(got.hooks[0].title, "Create the feed");
        assert_eq!(got.hooks[1].kind, HookKind::Teardown);
        assert_eq!(got.hooks[2].kind, HookKind::Watch);
    }

    #[test]
    fn what_cannot_be_read_statically_is_a_problem_with_its_place() {
        let cases = [
            (
                "from meshroom.decorators import setup_consumer\n@setup_consumer(topic=get_topic())\ndef a(): ...\n",
                (2, 23),
                "must be a literal",
            ),
            (
                "from meshroom.decorators import setup_consumer\n@setup_consumer('events', colour='red')\ndef a(): ...\n",
                (2, 27),
                "has no argument `colour`",
            ),
            (
                "from meshroom.decorators import setup_consumer\n@setup_consumer('events', mode='sideways')\ndef a(): ...\n",
                (2, 32),
                "must be \"push\", \"pull\" or None",
            ),
            (
                "from meshroom.decorators import setup_consumer\n@setup_consumer('events', owns_both='yes')\ndef a(): ...\n",
                (2, 37),
                "must be True or False",
            ),
            (
                "from meshroom.decorators import setup_consumer\n@setup_consumer\ndef a(): ...\n",
                (2, 1),
                "must be called",
            ),
            (
                "from meshroom.decorators import setup_consumer\n@setup_consumer(f'{x}')\ndef a(): ...\n",
                (2, 17),
                "must be a literal",
            ),
            (
                "from meshroom.decorators import setup_consumer\n@setup_consumer(*args)\ndef a(): ...\n",
                (2, 17),
                "write its arguments out",
            ),
            (
                "from meshroom.decorators import setup\n@setup()\ndef a(): ...\n",
                (2, 7),
                "belongs in an integration's file",
            ),
            (
                "from meshroom.decorators import watch\n@watch()\ndef a(): ...\n",
                (2, 7),
                "needs a topic",
            ),
            ("def broken(:\n    pass\n", (1, 12), "syntax error"),
        ];
        for (src, (line, column), message) in cases {
            let got = product(src);
            assert!(got.hooks.is_empty(), "{src}: {:?}", got.hooks);
            let p = &got.problems[0];
            assert!(p.message.contains(message), "{src}: {p:?}");
            assert_eq!((p.line, p.column), (line, column), "{src}: {p:?}");
        }
        let got = integration(
            "events_consumer",
            "from meshroom.decorators import setup_consumer\n@setup_consumer('x')\ndef a(): ...\n",
        );
        assert!(
            got.problems[0]
                .message
                .contains("belongs in the product's own files")
        );
        let got = integration(
            "events_consumer",
            "from meshroom.decorators import produce\n@produce('x')\ndef a(): ...\n",
        );
        assert!(
            got.problems[0]
                .message
                .contains("producer integration's file")
        );
        let got = integration("not-an-integration", "");
        assert!(got.problems[0].message.contains("<topic>_<role>"));
        let got = parse(
            b"\xff\xfe",
            Location::Product {
                product: "p",
                module: "m",
            },
        );
        assert!(got.problems[0].message.contains("UTF-8"));
    }

    #[test]
    fn literals_as_python_reads_them() {
        let got = product(
            "from meshroom.decorators import setup_consumer\n\
             @setup_consumer('a\\tb\\x41\\u00e9\\101', r'raw\\n', format=\"\"\"tri\"ple\"\"\", order=0x10)\n\
             def a(): ...\n",
        );
        assert_eq!(got.problems, []);
        assert_eq!(got.hooks[0].topic.as_deref(), Some("a\tbAéA"));
        assert_eq!(got.hooks[0].title, "raw\\n");
        assert_eq!(got.hooks[0].format.as_deref(), Some("tri\"ple"));
        assert_eq!(got.hooks[0].order, HookOrder::At(16));
    }

    #[test]
    fn decorators_not_from_meshroom_are_not_hooks() {
        let got =
            product("from mylib import setup_consumer\n@setup_consumer('events')\ndef a(): ...\n");
        assert_eq!(got, PythonHooks::default());
        let got =
            product("from meshroom.decorators import *\n@setup_consumer('events')\ndef a(): ...\n");
        assert_eq!(got.hooks.len(), 1);
    }
}
