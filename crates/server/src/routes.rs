//! HTTP routes, JSON error handling, limits and the blocking-work bridge.

use crate::assets;
use crate::backend::*;
use crate::session::{valid_session_id, Mood, MoodSmoother, Sessions};
use crate::{HostAllowlist, ServerConfig};
use axum::body::{Body, Bytes};
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, OriginalUri, Path, Query, Request, State,
};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use moodtune_core::Emotion;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::services::ServeFile;

struct AppState {
    backend: Arc<dyn Backend>,
    sessions: Mutex<Sessions>,
    /// Shared with the decode workers: a permit lives as long as its worker, even when
    /// the client hangs up and the request future is dropped.
    analyze_permits: Arc<Semaphore>,
    config: ServerConfig,
}

type St = State<Arc<AppState>>;

pub(crate) fn router(backend: Arc<dyn Backend>, config: ServerConfig) -> Router {
    let state = Arc::new(AppState {
        backend,
        sessions: Mutex::new(Sessions::new(config.max_sessions)),
        analyze_permits: Arc::new(Semaphore::new(config.analyze_concurrency.max(1))),
        config: config.clone(),
    });
    let api = Router::new()
        .route("/info", get(info))
        .route(
            "/analyze",
            post(analyze).layer(DefaultBodyLimit::max(config.frame_limit)),
        )
        .route("/playlist", get(playlist))
        .route("/playlist/export", get(playlist_export))
        .route("/feedback", post(feedback))
        .route("/songs", get(songs))
        .route("/picks", get(all_picks))
        .route("/picks/{emotion}", get(picks).put(set_picks))
        .route(
            "/import",
            post(import).layer(DefaultBodyLimit::max(config.upload_limit)),
        )
        .route("/import/progress", get(import_progress))
        .route("/audio/{id}", get(audio))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.json_limit));
    Router::new()
        .route("/", get(|| async { assets::page(assets::INDEX_HTML) }))
        .route("/app.js", get(|| async { assets::page(assets::APP_JS) }))
        .route("/app.css", get(|| async { assets::page(assets::APP_CSS) }))
        .nest("/api", api)
        .fallback(page_not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// An error answered as `{"error": "..."}` with a status code.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // A busy library frees up within seconds; the page retries after this.
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        res
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        let status = match e {
            BackendError::BadInput(_) => StatusCode::BAD_REQUEST,
            BackendError::NotFound(_) => StatusCode::NOT_FOUND,
            BackendError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            BackendError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Query string parsed into `T`, rejected as a JSON 400.
struct ApiQuery<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| ApiQuery(t))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// A path segment parsed into `T`, rejected as a JSON 400 (axum's own `Path` answers
/// a bad segment, such as invalid UTF-8, in plain text).
struct ApiPath<T>(T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|e| ApiError::new(e.status(), e.body_text()))
    }
}

/// The raw body within the route's size limit; too large is a JSON 413.
struct RawBody(Bytes);

impl FromRequest<Arc<AppState>> for RawBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                let c = &state.config;
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "request body too large: camera frames and photos may be up to {}, \
                         imported files up to {}, other requests up to {}",
                        human_bytes(c.frame_limit),
                        human_bytes(c.upload_limit),
                        human_bytes(c.json_limit)
                    ),
                ))
            }
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }
}

/// `2 MiB`, `64 KiB`, `100 bytes`.
fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// A JSON body parsed into `T`; malformed JSON is a JSON 400 naming the problem.
struct ApiJson<T>(T);

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// Runs blocking backend work off the async threads; a panic in the backend becomes a
/// 500 instead of taking the server down.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> BackendResult<T> + Send + 'static,
) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            if e.is_panic() {
                "internal error: the backend failed on this request (the server keeps running)"
            } else {
                "internal error: the request was cancelled"
            },
        )),
    }
}

fn parse_emotion(s: &str) -> ApiResult<Emotion> {
    s.parse::<Emotion>()
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

fn check_session(id: &str) -> ApiResult<()> {
    if valid_session_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid session id: use 1-64 letters, digits, '-' or '_'",
        ))
    }
}

fn probs_json(p: &[f32; Emotion::COUNT]) -> Value {
    let m: serde_json::Map<String, Value> = Emotion::ALL
        .iter()
        .map(|e| (e.key().to_string(), json!(p[e.index()])))
        .collect();
    Value::Object(m)
}

/// Rejects foreign `Host` names (DNS rebinding) and requests other sites' pages make
/// (cross-site request forgery), and adds protective headers.
async fn guard(State(st): St, req: Request, next: Next) -> Response {
    let allowed = &st.config.allowed_hosts;
    // A request without a `Host` (HTTP/1.0) comes from no browser.
    if let Some(host) = req.headers().get(header::HOST) {
        if !host.to_str().is_ok_and(|h| allowed.allows_host(h)) {
            let shown = truncated(&String::from_utf8_lossy(host.as_bytes()), 100);
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this moodtune server does not answer to the host name {shown:?}: it \
                     answers to localhost, the address it listens on and the names given \
                     with `moodtune serve --allow-host NAME`"
                ),
            )
            .into_response();
        }
    }
    if let Some(why) = cross_site(&req, allowed) {
        return ApiError::new(StatusCode::FORBIDDEN, why).into_response();
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A handler's own, stricter policy (audio files: `sandbox`) is kept.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
             object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Why a request must be refused as coming from another site's page. A page of any
/// site can make the browser send requests to localhost: posts that would change the
/// library (a form, a no-cors `fetch`), and reads of the API through elements that need
/// no CORS (an `<audio src>` plays the user's songs and enumerates them by id). So the
/// API answers only its own page, direct visits and clients that are not browsers
/// (curl and scripts send neither `Origin` nor `Sec-Fetch-Site`); the page itself and
/// its assets stay open to links from anywhere.
fn cross_site(req: &Request, allowed: &HostAllowlist) -> Option<String> {
    let method = req.method();
    let reads = method == axum::http::Method::GET
        || method == axum::http::Method::HEAD
        || method == axum::http::Method::OPTIONS;
    let path = req.uri().path();
    if reads && !path.starts_with("/api/") {
        return None;
    }
    let what = if reads {
        format!("read {}", truncated(path, 100))
    } else {
        format!("{method} to moodtune")
    };
    let headers = req.headers();
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = header_text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Some(format!(
                "cross-site request refused: a {site} page may not {what}"
            ));
        }
    }
    if let Some(origin) = header_text(header::ORIGIN.as_str()) {
        if !allowed.allows_origin(origin, header_text(header::HOST.as_str())) {
            return Some(format!(
                "cross-site request refused: a page from {} may not {what}",
                truncated(origin, 100)
            ));
        }
    }
    None
}

/// At most `max` characters of `text`, for echoing client input in an error.
fn truncated(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

// `OriginalUri`: inside the nested /api router the path has lost its prefix.
async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such API endpoint: {}", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed on {}", uri.path()),
    )
}

async fn page_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not found")
}

async fn info(State(st): St) -> ApiResult<Json<Value>> {
    let b = st.backend.clone();
    let info = blocking(move || b.info()).await?;
    Ok(Json(json!({
        "library": info.library,
        "songs": info.songs,
        "model": info.model,
        "emotions": Emotion::ALL.iter().map(|e| json!({"key": e.key(), "name": e.name()})).collect::<Vec<_>>(),
        "strategies": ["match", "lift"],
        "limits": {
            "frame_bytes": st.config.frame_limit,
            "upload_bytes": st.config.upload_limit,
        },
    })))
}

#[derive(Deserialize)]
struct AnalyzeQuery {
    session: Option<String>,
}

async fn analyze(
    State(st): St,
    ApiQuery(q): ApiQuery<AnalyzeQuery>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    if let Some(s) = &q.session {
        check_session(s)?;
    }
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty body: send the image (JPEG, PNG, WebP or BMP) as the request body",
        ));
    }
    let permit = st
        .analyze_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))?;
    let b = st.backend.clone();
    let stream = q.session.clone();
    // `body` moves into the worker and is dropped there: frames live only in memory.
    let analysis = blocking(move || {
        let _permit = permit;
        b.analyze(&body, stream.as_deref())
    })
    .await?;

    // The backend chose the face that sets the mood.
    let main_face = analysis.main_face.and_then(|i| analysis.faces.get(i));
    let mood: Option<Mood> = match (&q.session, main_face) {
        (Some(s), Some(f)) => Some(
            st.sessions
                .lock()
                .expect("sessions lock")
                .get(s)
                .smoother
                .update(&f.probs),
        ),
        (Some(s), None) => st
            .sessions
            .lock()
            .expect("sessions lock")
            .get(s)
            .smoother
            .current(),
        // A one-off photo: its own face decides, unsmoothed.
        (None, Some(f)) => Some(MoodSmoother::new(1.0, 0.0).update(&f.probs)),
        (None, None) => None,
    };
    let faces: Vec<Value> = analysis
        .faces
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({
                "box": f.bbox,
                "emotion": f.top().key(),
                "probabilities": probs_json(&f.probs),
                "flags": f.flags,
                "main": analysis.main_face == Some(i),
            })
        })
        .collect();
    Ok(Json(json!({
        "width": analysis.width,
        "height": analysis.height,
        "faces": faces,
        "mood": mood,
    })))
}

#[derive(Deserialize)]
struct PlaylistQuery {
    emotion: String,
    strategy: Option<String>,
    session: Option<String>,
    limit: Option<usize>,
}

async fn playlist(State(st): St, ApiQuery(q): ApiQuery<PlaylistQuery>) -> ApiResult<Json<Value>> {
    let emotion = parse_emotion(&q.emotion)?;
    let strategy = match &q.strategy {
        Some(s) => s
            .parse::<Strategy>()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => Strategy::default(),
    };
    let limit = q.limit.unwrap_or(10).clamp(1, 100);
    if let Some(s) = &q.session {
        check_session(s)?;
    }
    // Read only: a GET creates no session (see `Sessions::existing`).
    let exclude = match &q.session {
        Some(s) => st
            .sessions
            .lock()
            .expect("sessions lock")
            .existing(s)
            .map(|session| session.heard.clone())
            .unwrap_or_default(),
        None => Default::default(),
    };
    let b = st.backend.clone();
    let ex = exclude.clone();
    let mut songs = blocking(move || b.playlist(emotion, strategy, &ex, limit)).await?;
    // Everything of this mood has been heard: start the round again rather than go
    // silent. A mood with no songs at all is not that, and keeps the tab's history.
    let mut restarted = false;
    if songs.is_empty() && !exclude.is_empty() {
        let b = st.backend.clone();
        songs = blocking(move || b.playlist(emotion, strategy, &Default::default(), limit)).await?;
        if !songs.is_empty() {
            if let Some(s) = &q.session {
                if let Some(session) = st.sessions.lock().expect("sessions lock").existing(s) {
                    session.heard.clear();
                }
            }
            restarted = true;
        }
    }
    Ok(Json(json!({
        "emotion": emotion.key(),
        "strategy": strategy.key(),
        "songs": songs,
        "restarted": restarted,
    })))
}

#[derive(Deserialize)]
struct ExportQuery {
    emotion: String,
    strategy: Option<String>,
    format: Option<PlaylistFileFormat>,
    limit: Option<usize>,
}

/// The mood's playlist as a file to download (`format=m3u8`, the default, or `xspf`).
async fn playlist_export(State(st): St, ApiQuery(q): ApiQuery<ExportQuery>) -> ApiResult<Response> {
    let emotion = parse_emotion(&q.emotion)?;
    let strategy = match &q.strategy {
        Some(s) => s
            .parse::<Strategy>()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => Strategy::default(),
    };
    let format = q.format.unwrap_or(PlaylistFileFormat::M3u8);
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let b = st.backend.clone();
    let (content_type, bytes) = blocking(move || b.playlist_file(emotion, strategy, format, limit))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "this server cannot write playlist files",
            )
        })?;
    let content_type = HeaderValue::from_str(&content_type).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the backend gave an invalid content type",
        )
    })?;
    // The emotion's key is plain ASCII: the file name needs no quoting.
    let disposition = format!(
        "attachment; filename=\"moodtune-{}.{}\"",
        emotion.key(),
        format.key()
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).expect("ASCII header"),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum FeedbackAction {
    Like,
    Skip,
    /// Played to the end (or moved past with "next"): not offered again this session.
    Played,
}

#[derive(Deserialize)]
struct FeedbackBody {
    song_id: SongId,
    emotion: String,
    action: FeedbackAction,
    session: Option<String>,
}

async fn feedback(State(st): St, ApiJson(fb): ApiJson<FeedbackBody>) -> ApiResult<Json<Value>> {
    let emotion = parse_emotion(&fb.emotion)?;
    if let Some(s) = &fb.session {
        check_session(s)?;
    }
    let kind = match fb.action {
        FeedbackAction::Like => Some(FeedbackKind::Like),
        FeedbackAction::Skip => Some(FeedbackKind::Skip),
        FeedbackAction::Played => None,
    };
    if let Some(kind) = kind {
        let b = st.backend.clone();
        let id = fb.song_id;
        blocking(move || b.feedback(id, emotion, kind)).await?;
    }
    if let Some(s) = &fb.session {
        st.sessions
            .lock()
            .expect("sessions lock")
            .get(s)
            .mark_heard(fb.song_id);
    }
    Ok(Json(json!({ "ok": true })))
}

#[derive(Deserialize)]
struct SongsQuery {
    q: Option<String>,
    emotion: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn songs(State(st): St, ApiQuery(q): ApiQuery<SongsQuery>) -> ApiResult<Json<SongPage>> {
    let emotion = match q.emotion.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(e) => Some(parse_emotion(e)?),
    };
    let query = q.q.unwrap_or_default();
    if query.len() > 200 {
        return Err(ApiError::bad_request(
            "search text too long (200 bytes at most)",
        ));
    }
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let b = st.backend.clone();
    Ok(Json(
        blocking(move || b.songs(&query, emotion, offset, limit)).await?,
    ))
}

async fn all_picks(State(st): St) -> ApiResult<Json<BTreeMap<&'static str, Vec<Song>>>> {
    let b = st.backend.clone();
    let all = blocking(move || {
        Emotion::ALL
            .iter()
            .map(|e| Ok((e.key(), b.picks(*e)?)))
            .collect::<BackendResult<BTreeMap<_, _>>>()
    })
    .await?;
    Ok(Json(all))
}

async fn picks(State(st): St, ApiPath(emotion): ApiPath<String>) -> ApiResult<Json<Vec<Song>>> {
    let emotion = parse_emotion(&emotion)?;
    let b = st.backend.clone();
    Ok(Json(blocking(move || b.picks(emotion)).await?))
}

#[derive(Deserialize)]
struct PicksBody {
    song_ids: Vec<SongId>,
}

async fn set_picks(
    State(st): St,
    ApiPath(emotion): ApiPath<String>,
    ApiJson(body): ApiJson<PicksBody>,
) -> ApiResult<Json<Vec<Song>>> {
    let emotion = parse_emotion(&emotion)?;
    if body.song_ids.len() > 20 {
        return Err(ApiError::bad_request(
            "too many typical songs: pick up to 20 (three is the usual number)",
        ));
    }
    let b = st.backend.clone();
    Ok(Json(
        blocking(move || b.set_picks(emotion, &body.song_ids)).await?,
    ))
}

#[derive(Deserialize)]
struct ImportQuery {
    filename: String,
}

async fn import_progress(State(st): St) -> ApiResult<Json<ImportProgress>> {
    let b = st.backend.clone();
    Ok(Json(blocking(move || b.import_progress()).await?))
}

async fn import(
    State(st): St,
    ApiQuery(q): ApiQuery<ImportQuery>,
    RawBody(body): RawBody,
) -> ApiResult<Json<ImportSummary>> {
    // Only the base name matters (it tells the format); a client path is never used.
    let name = q
        .filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if name.is_empty() || name.len() > 255 {
        return Err(ApiError::bad_request(
            "missing or overlong file name: pass ?filename=songs.csv (or .xlsx, .ods, ...)",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::bad_request(format!("{name} is empty")));
    }
    let b = st.backend.clone();
    Ok(Json(blocking(move || b.import(&name, &body)).await?))
}

async fn audio(State(st): St, ApiPath(id): ApiPath<String>, req: Request) -> ApiResult<Response> {
    let id: SongId = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid song id {id:?}: expected a number")))?;
    let b = st.backend.clone();
    let path = blocking(move || b.audio_path(id)).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("song {id} has no audio file"),
        )
    })?;
    if !path.is_file() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("the audio file of song {id} is missing: {}", path.display()),
        ));
    }
    // Only audio leaves the server, with a type chosen here: a library entry pointing at
    // a page or a script must not be served from the app's own origin.
    let mime = audio_mime(&path).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the file of song {id} is not an audio file moodtune plays: {}",
                path.display()
            ),
        )
    })?;
    // ServeFile answers Range requests (206), so the player can seek.
    let res = ServeFile::new_with_mime(&path, &mime)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut res = res.map(Body::new);
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    Ok(res)
}

/// The media type of an audio file moodtune serves, by extension; `None` for anything
/// else.
pub fn audio_mime(path: &std::path::Path) -> Option<mime::Mime> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let mime = match ext.as_str() {
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "opus" => "audio/ogg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        _ => return None,
    };
    mime.parse().ok()
}
