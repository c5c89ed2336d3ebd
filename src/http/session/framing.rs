//! How a message's body is framed (RFC 9112 §6.3) and which multipart readings a
//! request body gets.

use crate::http::body::BodyDecoder;
use crate::http::multipart::{MultipartParser, MAX_BOUNDARY_READINGS};
use crate::http::{HttpError, RequestHead, ResponseHead};

/// One multipart parser per boundary reading of every Content-Type header (a second
/// Content-Type is a reading too), at most [`MAX_BOUNDARY_READINGS`] in all.
pub(super) fn multipart_readings(req: &RequestHead) -> Vec<MultipartParser> {
    let mut parsers: Vec<MultipartParser> = Vec::new();
    for h in req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-type"))
    {
        for p in MultipartParser::all_from_content_type(&h.value) {
            if parsers.len() < MAX_BOUNDARY_READINGS
                && !parsers.iter().any(|q| q.boundary() == p.boundary())
            {
                parsers.push(p);
            }
        }
    }
    parsers
}

/// How a request body is framed (RFC 9112 §6.3): chunked wins over Content-Length;
/// a request with neither has no body.
pub(super) fn request_body_framing(req: &RequestHead) -> Result<Option<BodyDecoder>, HttpError> {
    if is_chunked(req.header("transfer-encoding")) {
        return Ok(Some(BodyDecoder::chunked()));
    }
    match content_length(req.header("content-length"))? {
        Some(0) | None => Ok(None),
        Some(n) => Ok(Some(BodyDecoder::Length { remaining: n })),
    }
}

/// How a response body is framed; `None` means "until close".
pub(super) fn response_body_framing(resp: &ResponseHead) -> Result<Option<BodyDecoder>, HttpError> {
    if is_chunked(resp.header("transfer-encoding")) {
        return Ok(Some(BodyDecoder::chunked()));
    }
    Ok(
        content_length(resp.header("content-length"))?
            .map(|n| BodyDecoder::Length { remaining: n }),
    )
}

fn is_chunked(te: Option<&str>) -> bool {
    te.is_some_and(|v| {
        v.rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    })
}

pub(super) fn content_length(v: Option<&str>) -> Result<Option<u64>, HttpError> {
    let Some(v) = v else { return Ok(None) };
    // Repeated identical values ("5, 5") are allowed by RFC 9110 §8.6.
    let mut parsed: Option<u64> = None;
    for piece in v.split(',') {
        let n = piece
            .trim()
            .parse::<u64>()
            .map_err(|_| HttpError::BadContentLength)?;
        if parsed.is_some_and(|p| p != n) {
            return Err(HttpError::BadContentLength);
        }
        parsed = Some(n);
    }
    Ok(parsed)
}
