//! Mount namespaces: the caller's mount choices, the collected trees
//! and their images.

use crate::{external, image, mount, ns, Context, Error, NsKind, Result};

#[cfg(feature = "bench")]
use super::Collectors;

impl Context {
    /// External mounts, skips and enabled filesystems for the next collection.
    pub fn mount_config(&self) -> &mount::MountConfig {
        &self.mount_config
    }

    /// All collected mount namespaces with their sharing.
    pub fn mount_namespaces(&self) -> Result<&mount::MountNamespaces> {
        Ok(&self.collected()?.mnt)
    }

    /// The collected mount namespace `ns_id`: records in mount order,
    /// tree access, sharing. -ENOENT when the walk did not collect it.
    pub fn mount_namespace(&self, ns_id: u32) -> Result<&mount::MountNamespace> {
        self.namespace(ns_id, NsKind::Mnt)?;
        self.collected()?.mnt.get(ns_id).ok_or_else(|| {
            Error::new(
                libc::ENOENT,
                format!("mount namespace {ns_id} was not collected (CRIU's walk skips the caller's own when the root's differs)"),
            )
        })
    }

    /// Replaces the `--external mnt[PATH]:KEY` map: mount point as the
    /// namespace sees it → key. Applies from the next collection.
    pub fn set_external_mounts<I>(&mut self, map: I) -> Result<()>
    where
        I: IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    {
        let mut config = self.mount_config.clone();
        config.external_mounts.clear();
        for (path, key) in map {
            config.add_external_mount(&path, &key)?;
        }
        self.mount_config = config;
        Ok(())
    }

    /// Marks the mount at `path` (as the namespace sees it) external with
    /// `key`, as `--external mnt[PATH]:KEY`: in the tree root's own mount
    /// namespace only, as CRIU 4.2. Applies from the next collection.
    pub fn add_external_mount(&mut self, path: &[u8], key: &[u8]) -> Result<()> {
        self.mount_config.add_external_mount(path, key)
    }

    /// Adds one `--external` spec, as CRIU spells it: `mnt[PATH]:KEY`,
    /// `dev[MAJ/MIN]:VAL`, `pid[INO]:KEY`, `net[INO]:KEY` or `unix[INO]`.
    /// Applies from the next collection.
    pub fn add_external(&mut self, spec: &[u8]) -> Result<()> {
        match external::External::parse(spec)? {
            external::External::Mount { .. } | external::External::Device { .. } => self.mount_config.add_external(spec),
            external::External::PidNs { kid, key } => {
                self.externals.pid_ns.insert(kid, key);
                Ok(())
            }
            external::External::NetNs { kid, key } => {
                self.externals.net_ns.insert(kid, key);
                Ok(())
            }
            external::External::UnixSocket { ino } => {
                self.externals.unix_sockets.insert(ino);
                Ok(())
            }
        }
    }

    /// The namespaces and sockets declared external with `add_external`.
    pub fn externals(&self) -> &external::Externals {
        &self.externals
    }

    /// CRIU's `--skip-mnt PATH`: left out of dumps (for_dump collections).
    /// Compared as CRIU's `is_same_path` does: "/a/b/" and "/a//b" name
    /// the mount at "/a/b".
    pub fn add_skip_mount(&mut self, path: &[u8]) -> Result<()> {
        if path.first() != Some(&b'/') || path.contains(&0) {
            return Err(Error::invalid(format!("skip mount {:?} is not an absolute path", String::from_utf8_lossy(path))));
        }
        self.mount_config.skip_mounts.insert(mount::mountinfo::same_path_form(path));
        Ok(())
    }

    /// CRIU's `--enable-fs NAMES` ("all" or comma-separated types).
    pub fn enable_fs(&mut self, names: &[u8]) {
        self.mount_config.auto_fs.add(names);
    }

    /// How mount tables are read (mountinfo, statmount, or the faster
    /// where it is: [`mount::Reader::Auto`], the default).
    pub fn set_mount_reader(&mut self, reader: mount::Reader) {
        self.mount_config.reader = reader;
    }

    /// Only the mount step of `collect_namespaces`: process tree,
    /// namespace table, the user maps the mount rules need, mount
    /// namespaces (no user-namespace dump, no net). What the mount
    /// benchmark times; built with the `bench` feature only.
    #[cfg(feature = "bench")]
    pub fn collect_mount_namespaces(&mut self, for_dump: bool) -> Result<()> {
        self.collect(for_dump, Collectors::MountOnly)
    }

    /// The mount namespaces a dump writes images for, as CRIU 4.2's
    /// `dump_mnt_namespaces`: none when the tree root shares the caller's
    /// mount namespace (nested ones are collected and validated, not
    /// written), else every collected one but the caller's, in walk order.
    pub fn mount_namespaces_to_dump(&self) -> Result<Vec<u32>> {
        let table = self.namespaces()?;
        if !table.root_differs(NsKind::Mnt) {
            return Ok(Vec::new());
        }
        Ok(self.collected()?.mnt.namespaces().iter().filter(|n| n.ns_type != ns::NsType::Own).map(|n| n.ns_id).collect())
    }

    /// CRIU's `dump_mnt_ns`: writes mountpoints-<ns_id>.img into the
    /// images directory (temporary file, then rename).
    pub fn dump_mnt_ns(&mut self, ns_id: u32) -> Result<()> {
        let ns = self.mount_namespace(ns_id)?;
        let bytes = mount::image::encode_namespace(ns);
        let name = mount::image::image_name(ns_id);
        image::write_file(self.images_dir()?, &name, &bytes)?;
        self.log.info("mnt", format_args!("wrote {name}: {} mounts", ns.len()));
        Ok(())
    }

    /// Reads mountpoints-<ns_id>.img back from the images directory.
    pub fn read_mnt_image(&self, ns_id: u32) -> Result<Vec<image::pb::MntEntry>> {
        let name = mount::image::image_name(ns_id);
        let bytes = image::read_file(self.images_dir()?, &name)?;
        mount::image::decode(&bytes, &name)
    }
}
