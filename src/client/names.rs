//! Item names for Tab completion, read from the greeting and from `菜单` replies.
//!
//! The greeting lists `名字(价格)` items after `还有:`; the menu lists `名字 价格元 状态`
//! items after `菜单:`. Both separate items with `,`. Whatever does not look like either
//! is ignored: completion is a convenience, never a reason to fail.

use crate::lock::lock;
use std::sync::{Arc, Mutex};

use crate::shop::words::{BYE, MENU};

/// Most names remembered, so a hostile server cannot grow the list without bound.
pub const MAX_NAMES: usize = 1000;
/// The longest name remembered, in bytes: the shop reads at most
/// [`MAX_LINE`](crate::wire::MAX_LINE) bytes a line, so a longer name could not be
/// bought anyway. With [`MAX_NAMES`] this keeps the list under 1 MiB (64 KiB names
/// from a hostile server would make it 64 MiB).
pub const MAX_NAME_BYTES: usize = crate::wire::MAX_LINE;

/// The names seen so far; a cheap-to-clone handle shared with the line editor.
#[derive(Debug, Clone, Default)]
pub struct Names(Arc<Mutex<Vec<String>>>);

impl Names {
    /// Learns the names listed in a server message, if it lists any.
    pub fn learn(&self, message: &str) {
        let found = parse(message);
        if found.is_empty() {
            return;
        }
        let mut names = lock(&self.0);
        for name in found {
            if names.len() < MAX_NAMES && !names.contains(&name) {
                names.push(name);
            }
        }
    }

    /// The names that start with `prefix`, plus the commands `菜单` and `拜拜`.
    pub fn completions(&self, prefix: &str) -> Vec<String> {
        let names = lock(&self.0);
        names
            .iter()
            .map(String::as_str)
            .chain([MENU, BYE])
            .filter(|n| n.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }
}

/// The item names listed in a greeting or menu reply.
pub fn parse(message: &str) -> Vec<String> {
    let (list, greeting) = if let Some((_, rest)) = message.split_once("还有:") {
        (rest, true)
    } else if let Some(rest) = message.strip_prefix("菜单:") {
        (rest, false)
    } else {
        return Vec::new();
    };
    let list = list.split('。').next().unwrap_or("");
    list.split(',')
        .filter_map(|item| {
            let name = if greeting {
                item.rsplit_once('(')?.0
            } else {
                // `名字 2元 剩5`: drop the price and the state.
                let (rest, _state) = item.rsplit_once(' ')?;
                rest.rsplit_once(' ')?.0
            };
            let name = name.trim();
            (!name.is_empty()
                && name.len() <= MAX_NAME_BYTES
                && !name.chars().any(char::is_control))
            .then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let long_greeting = format!("还有:{}(1),瓜子(2)。", "长".repeat(MAX_NAME_BYTES));
        let cases: &[(&str, &[&str])] = &[
            (
                "目前商店还有:瓜子(4.5),西瓜(2),矿泉水(2.5)。请问您需要什么?",
                &["瓜子", "西瓜", "矿泉水"],
            ),
            (
                "菜单:瓜子 4.5元 已卖完,红 牛 2元 不限量",
                &["瓜子", "红 牛"],
            ),
            ("购买成功,余额 -2", &[]),
            ("菜单:", &[]),
            ("目前商店还有:", &[]),
            // Too long to be bought: not remembered.
            (&long_greeting, &["瓜子"]),
        ];
        for (message, want) in cases {
            assert_eq!(parse(message), *want, "{message}");
        }
    }

    #[test]
    fn completions_include_commands_once() {
        let names = Names::default();
        names.learn("目前商店还有:瓜子(4.5),西瓜(2)。请问您需要什么?");
        names.learn("菜单:瓜子 4.5元 剩3,西瓜 2元 剩1");
        assert_eq!(names.completions("瓜"), ["瓜子"]);
        assert_eq!(names.completions(""), ["瓜子", "西瓜", "菜单", "拜拜"]);
    }
}
