//! Reloading the goods file while the shop is open (SIGHUP).
//!
//! The file is read and validated exactly as at start; only a catalog that passes
//! replaces the one in force ([`Shop::reload`]). A file that fails leaves the shop as it
//! was, and the reason is logged in one line. No one is disconnected: customers carry
//! on with the new catalog from their next message.
//!
//! A reload reads the file the shop started from, never another: a shop started from
//! `./goods.toml` whose file is then moved away keeps its catalog (with a warning) rather
//! than falling back to the built-in demo catalog. Only a shop that started on the
//! built-in catalog looks for `./goods.toml` on a reload.

use std::path::{Path, PathBuf};

use log::{info, warn};

use crate::shop::catalog::{Catalog, CatalogError, LOCAL_GOODS};
use crate::shop::{Reloaded, Shop};
use crate::wire::codec::WireEncoding;

/// Knows where the catalog came from, to read it again.
#[derive(Debug, Clone)]
pub struct Reloader {
    /// The file the shop started from: `--goods`, or `./goods.toml` if it was there.
    /// `None`: the built-in catalog, and a reload looks for `./goods.toml`.
    goods: Option<PathBuf>,
    wire: WireEncoding,
}

impl Reloader {
    /// A reloader for a shop started with `--goods goods` (or without): it reads the
    /// file that start-up read. Call it right after loading the catalog.
    pub fn new(goods: Option<&Path>, wire: WireEncoding) -> Reloader {
        let local = Path::new(LOCAL_GOODS);
        let goods = goods.or_else(|| local.exists().then_some(local));
        Reloader {
            goods: goods.map(Path::to_path_buf),
            wire,
        }
    }

    /// Reads the goods file again and, if it is valid, puts it in force.
    pub fn reload(&self, shop: &Shop) -> Result<Reloaded, CatalogError> {
        let goods = match &self.goods {
            Some(path) => path.as_path(),
            None => Path::new(LOCAL_GOODS),
        };
        let catalog = Catalog::load(Some(goods), self.wire)?;
        Ok(shop.reload(catalog))
    }

    /// [`Reloader::reload`], with the outcome logged in one line.
    pub fn reload_and_log(&self, shop: &Shop) {
        match self.reload(shop) {
            Ok(r) => info!(
                "goods reloaded from {}: {} items ({} new, {} removed, {} new prices, {} new stock)",
                shop.catalog_source(),
                r.items,
                r.added,
                r.removed,
                r.repriced,
                r.restocked
            ),
            Err(e) => warn!(
                "goods not reloaded, the old catalog stays: {}",
                e.to_string().replace('\n', " ")
            ),
        }
    }
}
