//! The ids, uts, time and ipc namespace images (and the net arm of
//! `dump_namespaces`).

use crate::{image, nsimg, Context, Result};

impl Context {
    /// Reads what CRIU's `dump_namespaces` and per-task ids write (see
    /// [`Context::dump_namespaces`]) into the context, writing nothing and
    /// refusing nothing CRIU would refuse (shared kernel objects get the
    /// same id): for `show` and the getters. Needs a collected table.
    pub fn read_namespaces(&mut self) -> Result<&nsimg::NsImages> {
        let c = self.collected()?;
        self.check_root()?;
        let read = self.gone_is_esrch(nsimg::read_namespaces(&self.proc, &c.tree, &c.namespaces, c.user.root_maps(&c.namespaces), false, &self.log))?;
        // The net arm: each net namespace as a dump reads it.
        for &ns_id in &read.net {
            self.read_net_config(ns_id, true)?;
        }
        let c = self.collected.as_mut().expect("checked above");
        c.nsimg = read;
        Ok(&c.nsimg)
    }

    /// CRIU 4.2's `dump_namespaces` with `dump_time_ns(0)` and each task's
    /// ids: writes `ids-PID.img` for every live task, `utsns-N.img`,
    /// `timens-N.img` (`timens-0.img`: the caller's clocks, when the root
    /// shares the caller's time namespace), `ipcns-var/shm/msg/sem-N.img`
    /// and each segment's `pagemap-shmem-ID.img` + `pages-K.img`, and for
    /// each of the tree's net namespaces what [`Context::dump_net_ns`]
    /// writes. Refuses
    /// what CRIU refuses, before anything is written; writes all or
    /// nothing. Returns the names written, and keeps what it read for the
    /// getters.
    pub fn dump_namespaces(&mut self) -> Result<Vec<String>> {
        let mut batch = self.new_batch()?;
        self.stage_namespaces(&mut batch)?;
        let names = self.commit(batch)?;
        self.log.info("nsimg", format_args!("wrote {} namespace and ids images", names.len()));
        Ok(names)
    }

    pub(super) fn stage_namespaces(&mut self, batch: &mut image::Batch) -> Result<()> {
        let c = self.collected()?;
        self.check_root()?;
        nsimg::check_dump(&self.proc, &c.namespaces, self.root_pid, &self.externals)?;
        let read = self.gone_is_esrch(nsimg::read_namespaces(&self.proc, &c.tree, &c.namespaces, c.user.root_maps(&c.namespaces), true, &self.log))?;
        let mut images = read.images();
        // The net arm (CRIU's dump_net_ns), in the walk's order; its
        // refusals refuse the whole dump, before anything is written.
        for &ns_id in &read.net {
            let config = self.read_net_config(ns_id, true)?;
            images.extend(config.images()?.into_iter().map(|(name, bytes)| nsimg::Image { name, bytes }));
        }
        for img in &images {
            batch.add(&img.name, &img.bytes)?;
        }
        self.collected.as_mut().expect("checked above").nsimg = read;
        Ok(())
    }

    /// What the last `read_namespaces` or `dump_namespaces` read (-ENODATA
    /// before a collection; empty before either, and after a new
    /// collection).
    pub fn namespace_images(&self) -> Result<&nsimg::NsImages> {
        Ok(&self.collected()?.nsimg)
    }
}
