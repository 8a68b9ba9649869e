//! [`Project`]: the whole project folder, indexed once per command.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::capability::{Mode, Role};
use super::error::{ProjectError, Result};
use super::hooks::DeclaredHook;
use super::instance::{Instance, file_name};
use super::integration::Integration;
use super::names::{closest, ensure_inside, validate_name, validate_word};
use super::plug::Plug;
use super::product::{Product, ProductDefinition};
use super::python_hooks::{self, PythonFileProblem};
use super::reader::{Reader, SavedCache};
use super::scope::{Scope, Select};

/// A loaded project: products, their explicit integrations, instances and
/// plugs, each file read once. Lookups by name are O(1).
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
    products: Vec<Product>,
    product_idx: HashMap<String, usize>,
    integrations: Vec<Integration>,
    instances: Vec<Instance>,
    instance_idx: HashMap<String, Vec<usize>>,
    plugs: Vec<Plug>,
    /// What the products' Python hook files declare, read statically.
    python_hooks: Vec<DeclaredHook>,
    python_problems: Vec<PythonFileProblem>,
    /// The products and instances the load read (see [`Scope`]): a
    /// lookup outside them is an error saying so, not "unknown".
    loaded_products: Select,
    loaded_instances: Select,
}

/// Whether `dir` holds a meshroom project (a `products/` folder, as the original checks).
pub fn is_project(dir: &Path) -> bool {
    dir.join("products").is_dir()
}

impl Project {
    /// Loads the project at `root`: every definition, integration, instance
    /// and plug file, once. A malformed file is an error naming it.
    pub fn load(root: &Path) -> Result<Project> {
        Self::load_scope(root, &Scope::all())
    }

    /// [`Self::load`] reading every file from disk: no cache used or saved.
    pub fn load_uncached(root: &Path) -> Result<Project> {
        Self::load_with(&mut Reader::direct(), root)
    }

    /// Loads the products alone (definitions and integrations; no
    /// instances, no plugs), for commands about products only: on a large
    /// mesh most files are instances' and plugs'.
    pub fn load_products(root: &Path) -> Result<Project> {
        Self::load_scope(root, &Scope::products())
    }

    /// Loads what `scope` names and nothing else (see [`Scope`]), through
    /// the load cache; what it leaves out stays cached for other scopes.
    pub fn load_scope(root: &Path, scope: &Scope) -> Result<Project> {
        let saved = SavedCache::read(root);
        let mut reader = Reader::cached(root, &saved);
        if !scope.is_all() {
            reader = reader.keeping_unread();
        }
        // Whole parts are walked path by path: their stamps can be taken
        // ahead, in parallel. Named instances or products are a few paths.
        let whole: Vec<&str> = [
            (scope.products == Select::All, "products"),
            (scope.instances == Select::All, "instances"),
        ]
        .into_iter()
        .filter_map(|(all, part)| all.then_some(part))
        .collect();
        reader.prefetch(&whole);
        let project = Self::load_parts(&mut reader, root, scope)?;
        reader.finish();
        Ok(project)
    }

    pub(super) fn load_with(reader: &mut Reader<'_>, root: &Path) -> Result<Project> {
        Self::load_parts(reader, root, &Scope::all())
    }

    pub(super) fn load_parts(
        reader: &mut Reader<'_>,
        root: &Path,
        scope: &Scope,
    ) -> Result<Project> {
        if !is_project(root) {
            return Err(ProjectError::NotAProject(root.to_path_buf()));
        }
        let mut project = Project {
            root: root.to_path_buf(),
            products: Vec::new(),
            product_idx: HashMap::new(),
            integrations: Vec::new(),
            instances: Vec::new(),
            instance_idx: HashMap::new(),
            plugs: Vec::new(),
            python_hooks: Vec::new(),
            python_problems: Vec::new(),
            loaded_products: scope.products.clone(),
            loaded_instances: scope.instances.clone(),
        };
        project.load_instances(reader, root, scope)?;
        if scope.instance_products
            && let Select::Named(names) = &mut project.loaded_products
        {
            names.extend(project.instances.iter().map(|i| i.product.clone()));
        }
        project.load_products_in(reader, root)?;
        for problem in &project.python_problems {
            tracing::warn!("{problem}");
        }
        project.reindex();
        Ok(project)
    }

    /// Reads the products [`Self::loaded_products`] selects.
    fn load_products_in(&mut self, reader: &mut Reader<'_>, root: &Path) -> Result<()> {
        if self.loaded_products.is_empty() {
            return Ok(());
        }
        for dir in reader.sub_dirs(&root.join("products"))? {
            let name = file_name(&dir);
            if !self.loaded_products.contains(&name) {
                continue;
            }
            if let Err(e) = validate_name("product", &name) {
                tracing::warn!("skipping folder `{}`: {e}", dir.display());
                continue;
            }
            let mut product = Product::load_with(reader, &dir)?;
            product.python_files = reader.files(&dir, &["py"])?;
            for target_dir in reader.sub_dirs(&dir.join("integrations"))? {
                for file in reader.files(&target_dir, &["yml", "yaml", "py"])? {
                    if file.extension().is_some_and(|e| e == "py") {
                        product.python_files.push(file);
                    } else {
                        let integration = Integration::load_with(reader, &file)?;
                        self.integrations.push(integration);
                    }
                }
            }
            python_hooks::read_product(
                reader,
                &product,
                &mut self.python_hooks,
                &mut self.python_problems,
            )?;
            self.products.push(product);
        }
        Ok(())
    }

    /// Reads the instances `scope` selects, with their plugs when it asks,
    /// then (for named instances) the instances those plugs reach.
    fn load_instances(
        &mut self,
        reader: &mut Reader<'_>,
        root: &Path,
        scope: &Scope,
    ) -> Result<()> {
        if scope.instances.is_empty() {
            return Ok(());
        }
        let product_dirs = reader.sub_dirs(&root.join("instances"))?;
        let mut wanted = scope.instances.clone();
        let mut with_plugs = scope.plugs;
        loop {
            for product_dir in &product_dirs {
                for dir in reader.sub_dirs(product_dir)? {
                    if !wanted.contains(&file_name(&dir)) {
                        continue;
                    }
                    let instance = Instance::load_with(reader, &dir)?;
                    if with_plugs {
                        for dst_dir in reader.sub_dirs(&dir.join("plugs"))? {
                            for file in reader.files(&dst_dir, &["yaml", "yml"])? {
                                let mut plug = Plug::load_with(reader, &file)?;
                                plug.src_product.clone_from(&instance.product);
                                self.plugs.push(plug);
                            }
                        }
                    }
                    self.instances.push(instance);
                }
            }
            // Named instances: then the other ends of their plugs, once.
            let Select::Named(loaded) = &wanted else {
                return Ok(());
            };
            if !with_plugs {
                return Ok(());
            }
            let ends: std::collections::BTreeSet<String> = self
                .plugs
                .iter()
                .map(|p| p.dst_instance.clone())
                .filter(|d| !loaded.contains(d))
                .collect();
            if ends.is_empty() {
                return Ok(());
            }
            if let Select::Named(all) = &mut self.loaded_instances {
                all.extend(ends.iter().cloned());
            }
            wanted = Select::Named(ends);
            with_plugs = false;
        }
    }

    fn reindex(&mut self) {
        self.products.sort_by(|a, b| a.name.cmp(&b.name));
        self.product_idx = self
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        self.instances
            .sort_by(|a, b| (&a.product, &a.name).cmp(&(&b.product, &b.name)));
        self.instance_idx.clear();
        for (i, inst) in self.instances.iter().enumerate() {
            self.instance_idx
                .entry(inst.name.clone())
                .or_default()
                .push(i);
        }
        self.plugs.sort_by(|a, b| {
            (&a.src_instance, &a.dst_instance, &a.topic, a.mode).cmp(&(
                &b.src_instance,
                &b.dst_instance,
                &b.topic,
                b.mode,
            ))
        });
        self.integrations.sort_by(|a, b| {
            (
                &a.product,
                &a.target_product,
                &a.topic,
                a.role,
                a.mode,
                &a.format,
            )
                .cmp(&(
                    &b.product,
                    &b.target_product,
                    &b.topic,
                    b.role,
                    b.mode,
                    &b.format,
                ))
        });
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn products_dir(&self) -> PathBuf {
        self.root.join("products")
    }
    pub fn instances_dir(&self) -> PathBuf {
        self.root.join("instances")
    }

    // ----- lookups -------------------------------------------------------

    /// Whether the load read the whole project (no [`Scope`] narrowed it).
    pub fn loaded_everything(&self) -> bool {
        self.loaded_products == Select::All && self.loaded_instances == Select::All
    }

    /// Every product, sorted by name.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn find_product(&self, name: &str) -> Option<&Product> {
        self.product_idx.get(name).map(|&i| &self.products[i])
    }

    /// The product named `name`, or an error suggesting the closest names.
    pub fn product(&self, name: &str) -> Result<&Product> {
        if !self.loaded_products.contains(name) && self.find_product(name).is_none() {
            return Err(ProjectError::NotLoaded {
                what: "product",
                name: name.to_string(),
            });
        }
        self.find_product(name)
            .ok_or_else(|| ProjectError::Unknown {
                what: "product",
                name: name.to_string(),
                suggestions: closest(name, self.products.iter().map(|p| p.name.as_str())),
            })
    }

    /// Explicit integrations (from files), sorted.
    pub fn explicit_integrations(&self) -> &[Integration] {
        &self.integrations
    }

    /// Every instance, sorted by product then name.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The instance named `name` (of `product` when given), or an error with
    /// the closest names, or naming the products when the name is ambiguous.
    pub fn instance(&self, name: &str, product: Option<&str>) -> Result<&Instance> {
        let found: Vec<&Instance> = self
            .instance_idx
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.instances[i])
            .filter(|i| product.is_none_or(|p| i.product == p))
            .collect();
        match found.as_slice() {
            [one] => Ok(one),
            [] if !self.loaded_instances.contains(name) => Err(ProjectError::NotLoaded {
                what: "instance",
                name: name.to_string(),
            }),
            [] => Err(ProjectError::Unknown {
                what: "instance",
                name: name.to_string(),
                suggestions: closest(
                    name,
                    self.instances
                        .iter()
                        .filter(|i| product.is_none_or(|p| i.product == p))
                        .map(|i| i.name.as_str()),
                ),
            }),
            many => Err(ProjectError::AmbiguousInstance {
                name: name.to_string(),
                products: many.iter().map(|i| i.product.clone()).collect(),
            }),
        }
    }

    /// Every plug, sorted by source, destination, topic and mode.
    pub fn plugs(&self) -> &[Plug] {
        &self.plugs
    }

    /// The plug `src --[topic:mode]-> dst` (any mode when `None`).
    pub fn find_plug(
        &self,
        topic: &str,
        src: &str,
        dst: &str,
        mode: Option<Mode>,
    ) -> Option<&Plug> {
        self.plugs.iter().find(|p| {
            p.topic == topic
                && p.src_instance == src
                && p.dst_instance == dst
                && mode.is_none_or(|m| p.mode == m)
        })
    }

    /// Both end instances of a plug.
    pub fn plug_ends(&self, plug: &Plug) -> Result<(&Instance, &Instance)> {
        let src_product = (!plug.src_product.is_empty()).then_some(plug.src_product.as_str());
        Ok((
            self.instance(&plug.src_instance, src_product)?,
            self.instance(&plug.dst_instance, None)?,
        ))
    }

    /// Both end products of a plug.
    pub fn plug_products(&self, plug: &Plug) -> Result<(&Product, &Product)> {
        let (src, dst) = self.plug_ends(plug)?;
        Ok((self.product(&src.product)?, self.product(&dst.product)?))
    }

    /// The file of a plug.
    pub fn plug_path(&self, plug: &Plug) -> Result<PathBuf> {
        let src_product = if plug.src_product.is_empty() {
            self.instance(&plug.src_instance, None)?.product.clone()
        } else {
            plug.src_product.clone()
        };
        Ok(self
            .instances_dir()
            .join(src_product)
            .join(&plug.src_instance)
            .join("plugs")
            .join(&plug.dst_instance)
            .join(plug.file_name()))
    }

    /// Python hook files (never executed) found in product folders.
    pub fn python_files(&self) -> impl Iterator<Item = &Path> {
        self.products
            .iter()
            .flat_map(|p| p.python_files.iter().map(PathBuf::as_path))
    }

    /// The hooks the products' Python files declare, read statically
    /// (decorators with literal arguments; nothing is executed).
    pub fn python_hooks(&self) -> &[DeclaredHook] {
        &self.python_hooks
    }

    /// What could not be read statically in the products' Python files
    /// (file, line, column, what to change); each one's hook is left out.
    pub fn python_hook_problems(&self) -> &[PythonFileProblem] {
        &self.python_problems
    }

    /// The Python hooks of the products without an adapter: for those, the
    /// static view stands in for `describe()` in listings and plug
    /// resolution, as the original reads them (a built adapter's
    /// `describe()` is the truth for the others).
    pub fn unbuilt_python_hooks(&self) -> impl Iterator<Item = &DeclaredHook> {
        self.python_hooks.iter().filter(|h| {
            self.find_product(&h.product)
                .is_some_and(|p| p.definition.adapter.is_none())
        })
    }

    /// Plugs whose source or destination is `instance`.
    pub fn plugs_of<'a>(&'a self, instance: &'a Instance) -> impl Iterator<Item = &'a Plug> + 'a {
        self.plugs.iter().filter(move |p| touches(p, instance))
    }

    /// Every instance's plugs from one pass over the plugs: for listings that
    /// ask [`Self::plugs_of`] of each instance (quadratic on a large mesh).
    pub fn plug_index(&self) -> PlugIndex<'_> {
        let mut by_name: HashMap<&str, Vec<&Plug>> = HashMap::new();
        for plug in &self.plugs {
            by_name.entry(&plug.src_instance).or_default().push(plug);
            if plug.dst_instance != plug.src_instance {
                by_name.entry(&plug.dst_instance).or_default().push(plug);
            }
        }
        PlugIndex { by_name }
    }

    // ----- writes ---------------------------------------------------------

    fn checked(&self, path: &Path) -> Result<()> {
        ensure_inside(&self.root, path)
    }

    /// Creates `products/<name>/definition.yaml` from `definition` (its name
    /// is set to `name`). Errors if the product exists.
    pub fn create_product(
        &mut self,
        name: &str,
        mut definition: ProductDefinition,
    ) -> Result<&Product> {
        validate_name("product", name)?;
        if self.find_product(name).is_some() {
            return Err(ProjectError::Invalid(format!(
                "product `{name}` already exists"
            )));
        }
        let dir = self.products_dir().join(name);
        self.checked(&dir)?;
        definition.name = name.to_string();
        let product = Product {
            name: name.to_string(),
            dir,
            definition,
            python_files: Vec::new(),
        };
        product.save()?;
        self.products.push(product);
        self.reindex();
        self.product(name)
    }

    /// Creates `products/<name>/` from template files (relative paths and
    /// contents, e.g. from [`super::templates::files`]). The definition is
    /// validated before anything is written. Errors if the product exists.
    pub fn create_product_from_files(
        &mut self,
        name: &str,
        files: Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<&Product> {
        validate_name("product", name)?;
        if self.find_product(name).is_some() {
            return Err(ProjectError::Invalid(format!(
                "product `{name}` already exists"
            )));
        }
        let dir = self.products_dir().join(name);
        self.checked(&dir)?;
        for (rel, bytes) in &files {
            if !super::templates::is_plain_relative(rel) {
                return Err(ProjectError::OutsideProject {
                    path: rel.clone(),
                    root: dir.clone(),
                });
            }
            if rel == Path::new("definition.yaml") {
                let text = String::from_utf8_lossy(bytes);
                ProductDefinition::parse(&dir.join(rel), &text)?;
            }
        }
        for (rel, bytes) in &files {
            let path = dir.join(rel);
            self.checked(&path)?;
            meshroom_fsutil::write_atomic(&path, bytes)
                .map_err(|source| ProjectError::Write { path, source })?;
        }
        let mut product = Product::load(&dir)?;
        if !product.definition_path().is_file() {
            product.save()?;
        }
        product.python_files = Vec::new();
        self.products.push(product);
        self.reindex();
        self.product(name)
    }

    /// Writes a product's definition after it was edited in place.
    pub fn save_product(&self, name: &str) -> Result<()> {
        let product = self.product(name)?;
        self.checked(&product.definition_path())?;
        product.save()
    }

    /// Adds a capability to a product unless one already accepts it; returns
    /// whether the definition changed (and was saved).
    pub fn add_capability(
        &mut self,
        product: &str,
        topic: &str,
        role: Role,
        mode: Mode,
        format: Option<&str>,
    ) -> Result<bool> {
        validate_word("topic", topic)?;
        if let Some(f) = format {
            validate_word("format", f)?;
        }
        let idx = *self
            .product_idx
            .get(product)
            .ok_or_else(|| ProjectError::Unknown {
                what: "product",
                name: product.to_string(),
                suggestions: closest(product, self.products.iter().map(|p| p.name.as_str())),
            })?;
        if self.products[idx]
            .definition
            .has_capability(topic, role, mode, format)
        {
            return Ok(false);
        }
        self.products[idx]
            .definition
            .add_capability(topic, role, mode, format);
        self.save_product(product)?;
        Ok(true)
    }

    /// Writes the manifest of an explicit integration unless it exists;
    /// returns it and whether it was created.
    pub fn add_integration(
        &mut self,
        product: &str,
        target: &str,
        topic: &str,
        role: Role,
        mode: Mode,
        format: Option<&str>,
    ) -> Result<(Integration, bool)> {
        validate_word("topic", topic)?;
        if let Some(f) = format {
            validate_word("format", f)?;
        }
        let dir = self
            .product(product)?
            .dir
            .join("integrations")
            .join(&self.product(target)?.name);
        if let Some(existing) = self.integrations.iter().find(|i| {
            i.product == product
                && i.target_product == target
                && i.topic == topic
                && i.role == role
                && i.mode == mode
                && (format.is_none() || i.format.as_deref() == format)
        }) {
            return Ok((existing.clone(), false));
        }
        let mut integration = Integration {
            product: product.to_string(),
            target_product: target.to_string(),
            topic: topic.to_string(),
            role,
            mode,
            format: format.map(str::to_string),
            generic: false,
            path: None,
            manifest: Default::default(),
        };
        let path = dir.join(integration.file_name());
        self.checked(&path)?;
        integration.manifest = integration.new_manifest();
        super::yaml::write(&path, &integration.manifest)?;
        integration.path = Some(path);
        self.integrations.push(integration.clone());
        self.reindex();
        Ok((integration, true))
    }

    /// A new instance of `product` named `name` (unsaved until [`Self::save_instance`]).
    /// Errors if the name is invalid, the product unknown or the name taken.
    pub fn new_instance(&self, product: &str, name: &str) -> Result<Instance> {
        validate_name("instance", name)?;
        let product = self.product(product)?;
        if let Some(existing) = self.instance_idx.get(name).and_then(|v| v.first()) {
            let existing = &self.instances[*existing];
            return Err(ProjectError::Invalid(format!(
                "instance `{name}` already exists (of product `{}`); instance names are unique in a project",
                existing.product
            )));
        }
        Ok(Instance::new(&self.instances_dir(), &product.name, name))
    }

    /// Writes an instance's `config.yaml` and records it in the project.
    pub fn save_instance(&mut self, instance: Instance) -> Result<()> {
        self.checked(&instance.config_path())?;
        // Writers hold the project's lock: a temporary file beside the
        // config is a killed writer's.
        if let Some(folder) = instance.config_path().parent() {
            meshroom_fsutil::remove_stale_temps(folder);
        }
        instance.save()?;
        match self
            .instances
            .iter_mut()
            .find(|i| i.name == instance.name && i.product == instance.product)
        {
            Some(slot) => *slot = instance,
            None => self.instances.push(instance),
        }
        self.reindex();
        Ok(())
    }

    /// Deletes an instance's folder and the plugs towards it. Refuses while
    /// any of its plugs is up (tear them down first).
    pub fn remove_instance(&mut self, name: &str, product: Option<&str>) -> Result<Instance> {
        let instance = self.instance(name, product)?.clone();
        let plugs: Vec<Plug> = self.plugs_of(&instance).cloned().collect();
        let up: Vec<String> = plugs
            .iter()
            .filter(|p| !p.status.is_down())
            .map(ToString::to_string)
            .collect();
        if !up.is_empty() {
            return Err(ProjectError::Invalid(format!(
                "instance `{name}` has plugs that are up ({}); run `meshroom down` first",
                up.join(", ")
            )));
        }
        for plug in plugs.iter().filter(|p| p.dst_instance == instance.name) {
            self.remove_plug_file(plug)?;
        }
        self.checked(&instance.dir)?;
        std::fs::remove_dir_all(&instance.dir).map_err(|source| ProjectError::Write {
            path: instance.dir.clone(),
            source,
        })?;
        remove_if_empty(&self.instances_dir().join(&instance.product));
        self.instances
            .retain(|i| !(i.name == instance.name && i.product == instance.product));
        self.plugs.retain(|p| {
            p.dst_instance != instance.name
                && !(p.src_instance == instance.name && p.src_product == instance.product)
        });
        self.reindex();
        Ok(instance)
    }

    /// Writes a plug's file (new, or its status/outputs updated) and records it.
    pub fn save_plug(&mut self, mut plug: Plug) -> Result<()> {
        if plug.src_product.is_empty() {
            plug.src_product = self.instance(&plug.src_instance, None)?.product.clone();
        }
        self.write_plug(&plug)?;
        match self.plugs.iter_mut().find(|p| {
            p.src_instance == plug.src_instance
                && p.dst_instance == plug.dst_instance
                && p.topic == plug.topic
                && p.mode == plug.mode
        }) {
            Some(slot) => *slot = plug,
            None => self.plugs.push(plug),
        }
        self.reindex();
        Ok(())
    }

    /// Writes `plug`'s file (atomically, inside the project) without
    /// changing the loaded project: for runs that save many plugs at once
    /// from a snapshot. [`Project::save_plug`] also updates the project.
    pub fn write_plug(&self, plug: &Plug) -> Result<()> {
        let path = self.plug_path(plug)?;
        self.checked(&path)?;
        plug.write_to(&path)
    }

    /// Writes the files of `plugs` as one group commit
    /// ([`meshroom_fsutil::write_atomic_batch`]): each atomically, all
    /// durable when this returns, for far fewer flushes to disk than one
    /// [`Project::write_plug`] each. One result per plug, in order.
    pub fn write_plugs(&self, plugs: &[Plug]) -> Vec<Result<()>> {
        let mut results: Vec<Option<Result<()>>> = Vec::with_capacity(plugs.len());
        let mut files = Vec::new();
        let mut slots = Vec::new();
        for (i, plug) in plugs.iter().enumerate() {
            let file = self.plug_path(plug).and_then(|path| {
                self.checked(&path)?;
                let text = super::yaml::to_text(&path, plug)?;
                Ok((path, text.into_bytes()))
            });
            match file {
                Ok(file) => {
                    files.push(file);
                    slots.push(i);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        // Runs write under the project's writer lock: a temporary file
        // older than this process in a plug's folder is a killed run's.
        let mut folders: Vec<&Path> = files.iter().filter_map(|(p, _)| p.parent()).collect();
        folders.dedup();
        for folder in folders {
            meshroom_fsutil::remove_stale_temps(folder);
        }
        let written = meshroom_fsutil::write_atomic_batch(&files);
        for ((slot, result), (path, _)) in slots.into_iter().zip(written).zip(files) {
            results[slot] = Some(result.map_err(|source| ProjectError::Write { path, source }));
        }
        results.into_iter().flatten().collect()
    }

    /// Deletes the plug `src --[topic:mode]-> dst` (any mode when `None`) and
    /// returns it; errors naming what exists when there is no such plug.
    pub fn remove_plug(
        &mut self,
        topic: &str,
        src: &str,
        dst: &str,
        mode: Option<Mode>,
    ) -> Result<Plug> {
        let Some(plug) = self.find_plug(topic, src, dst, mode).cloned() else {
            let between: Vec<String> = self
                .plugs
                .iter()
                .filter(|p| p.src_instance == src && p.dst_instance == dst)
                .map(ToString::to_string)
                .collect();
            let mode_txt = mode.map(|m| format!(":{m}")).unwrap_or_default();
            return Err(ProjectError::Invalid(if between.is_empty() {
                format!("no plug {src} --[{topic}{mode_txt}]-> {dst}")
            } else {
                format!(
                    "no plug {src} --[{topic}{mode_txt}]-> {dst}; plugs between them: {}",
                    between.join(", ")
                )
            }));
        };
        self.remove_plug_file(&plug)?;
        self.plugs.retain(|p| {
            !(p.src_instance == plug.src_instance
                && p.dst_instance == plug.dst_instance
                && p.topic == plug.topic
                && p.mode == plug.mode)
        });
        Ok(plug)
    }

    fn remove_plug_file(&self, plug: &Plug) -> Result<()> {
        let path = self.plug_path(plug)?;
        self.checked(&path)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ProjectError::Write { path, source }),
        }
        if let Some(dst_dir) = path.parent() {
            remove_if_empty(dst_dir);
            if let Some(plugs_dir) = dst_dir.parent() {
                remove_if_empty(plugs_dir);
            }
        }
        Ok(())
    }
}

fn remove_if_empty(dir: &Path) {
    if std::fs::read_dir(dir).is_ok_and(|mut rd| rd.next().is_none()) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Whether `plug` has `instance` as its source or its destination.
fn touches(plug: &Plug, instance: &Instance) -> bool {
    (plug.src_instance == instance.name
        && (plug.src_product.is_empty() || plug.src_product == instance.product))
        || plug.dst_instance == instance.name
}

/// The plugs of every instance, built once by [`Project::plug_index`].
pub struct PlugIndex<'a> {
    /// Plugs by the name of their source or destination instance, in the
    /// project's plug order.
    by_name: HashMap<&'a str, Vec<&'a Plug>>,
}

impl<'a> PlugIndex<'a> {
    /// What [`Project::plugs_of`] gives for `instance`, in the same order.
    pub fn of<'b>(&'b self, instance: &'b Instance) -> impl Iterator<Item = &'a Plug> + 'b {
        self.by_name
            .get(instance.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(move |p| touches(p, instance))
    }
}
