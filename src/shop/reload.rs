//! Reloading the goods file while the shop is open (SIGHUP).
//!
//! The file is read and validated exactly as at start; only a catalog that passes
//! replaces the one in force ([`Shop::reload`]). A file that fails leaves the shop as it
//! was, and the reason is logged in one line. No one is disconnected: customers carry
//! on with the new catalog from their next message.

use std::path::{Path, PathBuf};

use log::{info, warn};

use crate::shop::catalog::{Catalog, CatalogError};
use crate::shop::{Reloaded, Shop};
use crate::wire::codec::WireEncoding;

/// Knows where the catalog came from, to read it again.
#[derive(Debug, Clone)]
pub struct Reloader {
    /// `--goods`, as given; `None` looks for `./goods.toml` again, as at start.
    goods: Option<PathBuf>,
    wire: WireEncoding,
}

impl Reloader {
    /// A reloader that reads the catalog the way start-up did.
    pub fn new(goods: Option<&Path>, wire: WireEncoding) -> Reloader {
        Reloader {
            goods: goods.map(Path::to_path_buf),
            wire,
        }
    }

    /// Reads the goods file again and, if it is valid, puts it in force.
    pub fn reload(&self, shop: &Shop) -> Result<Reloaded, CatalogError> {
        let catalog = Catalog::load(self.goods.as_deref(), self.wire)?;
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
