//! The whole-dump transaction: every image of the tree, named only when
//! all are written.

use crate::{image, mount, Context, Result};

use super::Collectors;

impl Context {
    fn stage_mnt_ns(&self, ns_id: u32, batch: &mut image::Batch) -> Result<()> {
        let ns = self.mount_namespace(ns_id)?;
        batch.add(&mount::image::image_name(ns_id), &mount::image::encode_namespace(ns))
    }

    /// The whole of what criurs writes for a dump of the tree, as one
    /// transaction, in CRIU 4.2's order: the collection (`userns-N`,
    /// `pidns-N`), each mount namespace CRIU writes
    /// ([`Context::mount_namespaces_to_dump`]), then what
    /// [`Context::dump_namespaces`] writes, then the tree's socket images
    /// ([`Context::dump_sockets`]). Every image is staged and
    /// named only when all are written: on failure no image of this call
    /// carries its final name, and the context keeps no collection (as a
    /// failed [`Context::collect_namespaces`]). Returns the names written.
    pub fn dump(&mut self) -> Result<Vec<String>> {
        self.images_dir()?;
        let written = self.stage_dump().and_then(|batch| self.commit(batch));
        if written.is_err() {
            self.collected = None;
        }
        written
    }

    fn stage_dump(&mut self) -> Result<image::Batch> {
        let mut batch = self.collect_staged(true, Collectors::All)?.expect("a dump's collection stages into the images directory");
        for ns_id in self.mount_namespaces_to_dump()? {
            self.stage_mnt_ns(ns_id, &mut batch)?;
        }
        self.stage_namespaces(&mut batch)?;
        self.stage_sockets(None, &mut batch)?;
        Ok(batch)
    }
}
