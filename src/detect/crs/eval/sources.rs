//! The value sources the literal gates and skip sets are kept per: every collection
//! (pool) of names or values, and every scalar variable, numbered once so that a
//! source's gate sets, memo slots and phase-1 results are found by index.

use super::super::model::Var;
use super::PoolId;

/// Pool sources: `pool * 2 + names`.
pub(super) const POOL_SOURCES: usize = 16;

pub(super) const POOLS: [PoolId; 8] = [
    PoolId::ArgsGet,
    PoolId::ArgsPost,
    PoolId::Cookies,
    PoolId::Headers,
    PoolId::Files,
    PoolId::FilesSizes,
    PoolId::PartHeaders,
    PoolId::Xml,
];

/// Scalar variables, numbered after the pool sources.
pub(super) const SCALARS: [Var; 19] = [
    Var::RequestFilename,
    Var::RequestBasename,
    Var::RequestUri,
    Var::RequestUriRaw,
    Var::RequestLine,
    Var::RequestMethod,
    Var::RequestProtocol,
    Var::QueryString,
    Var::RequestBody,
    Var::RequestBodyLength,
    Var::ArgsCombinedSize,
    Var::FilesCombinedSize,
    Var::MultipartStrictError,
    Var::MultipartUnmatchedBoundary,
    Var::ReqbodyProcessor,
    Var::ReqbodyError,
    Var::RemoteAddr,
    Var::UniqueId,
    Var::Duration,
];

pub(super) const N_SOURCES: usize = POOL_SOURCES + SCALARS.len();

pub(super) fn pool_source(p: PoolId, names: bool) -> u16 {
    let i = POOLS.iter().position(|&x| x == p).unwrap_or(0);
    (i * 2 + usize::from(names)) as u16
}

/// The source number of a scalar variable, or `memo::NO_SOURCE`.
pub(super) fn scalar_source(var: Var) -> u16 {
    SCALARS
        .iter()
        .position(|&v| v == var)
        .map_or(super::memo::NO_SOURCE, |i| (POOL_SOURCES + i) as u16)
}

/// Adds the sources of `var` to `out`; false when the variable cannot be gated.
pub(super) fn sources_of(var: Var, out: &mut Vec<u16>) -> bool {
    let pools = super::pools_of(var);
    if !pools.is_empty() {
        out.extend(pools.iter().map(|&(p, n)| pool_source(p, n)));
        return true;
    }
    if var == Var::Empty {
        return true;
    }
    match SCALARS.iter().position(|&v| v == var) {
        Some(i) => {
            out.push((POOL_SOURCES + i) as u16);
            true
        }
        None => false,
    }
}

/// Whether source `src` keeps its values from phase 1 to phase 2: the pools phase 1
/// fills (query arguments, cookies, headers) and the request line's scalars.
pub(super) fn stable_in_phase2(src: usize) -> bool {
    if src < POOL_SOURCES {
        return matches!(
            POOLS[src / 2],
            PoolId::ArgsGet | PoolId::Cookies | PoolId::Headers
        );
    }
    matches!(
        SCALARS.get(src - POOL_SOURCES),
        Some(
            Var::RequestFilename
                | Var::RequestBasename
                | Var::RequestUri
                | Var::RequestUriRaw
                | Var::RequestLine
                | Var::RequestMethod
                | Var::RequestProtocol
                | Var::QueryString
                | Var::RemoteAddr
        )
    )
}
