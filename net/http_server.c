#include "net/http_server.h"

#include "arch/x86_64/timer.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "lwip/tcp.h"
#include "net/http_parser.h"
#include "net/http_static.h"
#include "net/tcp_service.h"

/* Requests are read into REQUEST_BUFFER bytes in the connection; a header
 * that needs more gets a heap buffer of HTTP_MAX_HEADER_BYTES while it is
 * parsed, as nginx's large_client_header_buffers (4 x 8 KiB) come on demand:
 * large cookies do not cost every connection. */
#define REQUEST_BUFFER 8192
/* At most this many at once (512 KiB): a header is parsed in well under a
 * second, but clients trickling large headers would otherwise hold up to
 * 32 KiB each for HEADER_TIMEOUT_NS. Past it: 431, as without memory. */
#define LARGE_BUFFERS_MAX 16
/* What lwIP may deliver unread is bounded by the window: TCP_WND in chains
 * of over 32 KiB each (two that fit 64 KiB together are joined), plus the
 * two at either end. Refusing data instead would make lwIP drop every
 * segment that follows until it is taken, and the client back off. */
#define PENDING_CHAINS (TCP_WND / 0x8000 + 2)
/* Held pbufs may sit over the driver's receive buffers, and a client sending
 * tiny segments could make thousands of them per window: past this many the
 * chains are copied into one heap pbuf each (as the echo server compacts). */
#define PENDING_PBUFS 64
/* While the client's window holds answers back, a pipelined request is
 * answered only while the connection has at most this many pbufs queued.
 * lwIP's pbufs are one pool for all connections (MEMP_NUM_PBUF): each answer
 * takes two (its header, and its body by reference), and 12 clients that
 * pipelined small requests without reading their answers emptied the pool,
 * so no other connection could send. A client that reads (its window open,
 * nothing unsent) is answered as fast as before. */
#define PIPELINE_PBUFS_MAX 64
/* A client neither sending nor owing acknowledgements (one that owes some
 * has TCP_SERVICE_SEND_TIMEOUT_NS). */
#define IDLE_TIMEOUT_NS (15ULL * 1000000000ULL)
/* A request's header must be whole this long after its first byte, however
 * often bytes come (a client trickling one every few seconds would hold its
 * PCB for ever): answered 408. Apache's mod_reqtimeout gives 20 s (up to 40
 * while 500 B/s keep coming), nginx's client_header_timeout 60 s. */
#define HEADER_TIMEOUT_NS (20ULL * 1000000000ULL)
/* A connection waiting this long for a request (its first or its next) may be
 * given up for a new client when the PCB pool is empty (conn_mark_reusable). */
#define REUSABLE_AFTER_NS (1ULL * 1000000000ULL)
/* A lingering close (conn_linger) waits this long for the client's next
 * bytes, and this long in all, as nginx's lingering_timeout/lingering_time. */
#define LINGER_IDLE_NS (5ULL * 1000000000ULL)
#define LINGER_MAX_NS (30ULL * 1000000000ULL)
#define HEADER_BUFFER (HTTP_STATIC_HEADERS_MAX + 512) /* status line, our fields, the site's (Location, ETag, ...) */

static const char index_page[] =
    "<!doctype html>\n<html><head><title>unikernel-net</title></head><body>\n"
    "<h1>unikernel-net</h1>\n"
    "<p>A bare-metal x86-64 unikernel: its own virtio-net driver feeding lwIP, serving HTTP on port 80 "
    "and echo (RFC 862) on TCP and UDP port 7.</p>\n"
    "<ul><li><a href=\"/stats\">/stats</a>: driver and lwIP counters (Prometheus text format)</li>\n"
    "<li><a href=\"/hello\">/hello</a>: a tiny body, for load tests</li></ul>\n"
    "</body></html>\n";
static const char hello_body[] = "hello\n";

struct http_conn {
    struct tcp_pcb *pcb;
    char *request;           /* `small`, or `large` while a header needs it */
    size_t request_len, request_cap;
    char small[REQUEST_BUFFER];
    char *large;
    /* Received but not yet in `request` (it was full), oldest first; the
     * window stays shut for it. A chain counts at most 64 KiB (u16_t). */
    struct pbuf *pending[PENDING_CHAINS];
    unsigned pending_chains;
    size_t pending_bytes;
    /* The response being written: header (copied), then body (referenced or owned). */
    char header[HEADER_BUFFER];
    size_t header_len, header_sent;
    const char *body;
    size_t body_len, body_sent;
    char *owned_body;        /* generated bodies (/stats), freed when sent */
    bool close_after;        /* Connection: close, or an error response */
    bool unread_input;       /* the client may still send what is not read: a body, the rest of a refused request */
    bool lingering;          /* response sent and FIN queued; reading and dropping until the client's FIN */
    bool peer_closed;
    bool held_back;          /* the next pipelined request waits for the client to read (not a slow header) */
    bool reusable;           /* idle between requests, at TCP_PRIO_MIN: lwIP may abort it for a new connection */
    uint64_t last_active, linger_start;
    uint64_t request_start;  /* when the first byte of the request in `request` came */
};

static struct http_server_stats stats;
static unsigned large_buffers_held; /* conn_grow's, at most LARGE_BUFFERS_MAX */
static const struct http_dynamic_page *dynamic_pages;
static int dynamic_page_count;
static struct wall_clock wall_clock;

/* The Date field for now, made again only when the second changes; "" without a clock. */
static const char *date_line(uint64_t now)
{
    static uint64_t second;
    static char line[sizeof("Date: \r\n") + HTTP_DATE_LEN];
    if (!now)
        return "";
    if (now != second) {
        char date[HTTP_DATE_LEN + 1];
        http_date_format(now, date);
        snprintf(line, sizeof(line), "Date: %s\r\n", date);
        second = now;
    }
    return line;
}

const struct http_server_stats *http_server_stats(void)
{
    return &stats;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

/* Frees what is held past the request buffer; returns how many bytes it was. */
static size_t conn_drop_pending(struct http_conn *c)
{
    size_t bytes = c->pending_bytes;
    for (unsigned i = 0; i < c->pending_chains; i++)
        pbuf_free(c->pending[i]);
    c->pending_chains = 0;
    c->pending_bytes = 0;
    stats.held_input -= bytes;
    return bytes;
}

static void conn_free(struct http_conn *c)
{
    tcp_service_set_reclaimable(NULL, &c->reusable, false); /* the pcb is lwIP's now, or gone */
    conn_drop_pending(c);
    if (c->large) {
        kfree(c->large);
        large_buffers_held--;
    }
    kfree(c->owned_body);
    kfree(c);
    stats.active--;
}

static void detach_callbacks(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
}

static void conn_abort(struct http_conn *c)
{
    struct tcp_pcb *pcb = c->pcb;
    detach_callbacks(pcb);
    tcp_poll(pcb, NULL, 0);
    conn_free(c);
    stats.aborted++;
    tcp_abort(pcb);
}

static err_t on_poll(void *arg, struct tcp_pcb *pcb);

/* Drops the input held here (buffered and pending), which the client's
 * window still counts, and reopens the window for it; returns its bytes. */
static size_t conn_drop_input(struct http_conn *c)
{
    size_t held = c->request_len + conn_drop_pending(c);
    c->request_len = 0;
    tcp_service_recved(c->pcb, held);
    return held;
}

/* Graceful close. The connection state goes at once; if lwIP has no memory
 * for the FIN now, the pcb stays with a poll that retries (on_poll, arg NULL).
 * The bytes held here (a trailing CRLF, a partial request) were read: only
 * data that comes after the close earns the client an RST (RFC 1122
 * 4.2.2.13), which would also discard the response not yet acknowledged. */
static void conn_close(struct http_conn *c)
{
    struct tcp_pcb *pcb = c->pcb;
    conn_drop_input(c);
    detach_callbacks(pcb);
    conn_free(c);
    tcp_poll(pcb, NULL, 0); /* before tcp_close, which may free the pcb */
    if (tcp_close(pcb) != ERR_OK)
        tcp_poll(pcb, on_poll, TCP_SERVICE_POLL_1S);
}

/* content_type NULL: a response without content (304), so neither Content-Type
 * nor Content-Length. `fields`: more header lines, each ending in CRLF. */
static void start_response_with(struct http_conn *c, int status, const char *content_type, const char *fields,
                                size_t fields_len, const char *body, size_t body_len, bool send_body)
{
    /* HEADER_BUFFER holds the longest of these (the site's fields are at most HTTP_STATIC_HEADERS_MAX). */
    char length[48] = "";
    if (content_type)
        snprintf(length, sizeof(length), "Content-Length: %zu\r\n", body_len);
    int n = snprintf(c->header, sizeof(c->header),
                     "HTTP/1.1 %d %s\r\nServer: unikernel-net\r\n%s%s%s%s%s%.*s%sConnection: %s\r\n\r\n", status,
                     reason_phrase(status), date_line(wall_clock_at(&wall_clock, clock_now_ns())),
                     content_type ? "Content-Type: " : "", content_type ? content_type : "",
                     content_type ? "\r\n" : "", length, (int)fields_len, fields,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "", c->close_after ? "close" : "keep-alive");
    c->header_len = n > 0 && (size_t)n < sizeof(c->header) ? (size_t)n : sizeof(c->header) - 1;
    c->header_sent = 0;
    c->body = send_body && content_type ? body : NULL;
    c->body_len = send_body && content_type ? body_len : 0;
    c->body_sent = 0;
    stats.requests++;
    stats.responses_by_class[status / 100 < 6 ? status / 100 : 0]++;
}

static void start_response(struct http_conn *c, int status, const char *content_type, const char *body,
                           size_t body_len, bool send_body)
{
    start_response_with(c, status, content_type, "", 0, body, body_len, send_body);
}

/* Closing with bytes lwIP holds unread makes it answer with a reset, and so
 * does any byte arriving after tcp_close. A reset can overtake the response
 * (lwIP sends a callback's data only after the callback returns, the reset at
 * once), and a client then sees no response at all. So when the client sent,
 * or may still be sending, what this server does not read, only the sending
 * side is shut (FIN after the response) and whatever comes is read and
 * dropped until the client's FIN or a timeout (RFC 9112, 9.6). */
static void conn_linger(struct http_conn *c)
{
    stats.input_bytes_discarded += conn_drop_input(c);
    if (c->peer_closed || tcp_shutdown(c->pcb, 0, 1) != ERR_OK) {
        conn_close(c);
        return;
    }
    c->lingering = true;
    c->linger_start = c->last_active = clock_now_ns();
}

/* Bad requests only: cold, so built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) static void respond_error(struct http_conn *c, int status)
{
    const char *text = status == 400   ? "400 Bad Request\n"
                       : status == 405 ? "405 Method Not Allowed\n"
                       : status == 408 ? "408 Request Timeout\n"
                       : status == 414 ? "414 URI Too Long\n"
                       : status == 431 ? "431 Request Header Fields Too Large\n"
                       : status == 505 ? "505 HTTP Version Not Supported\n"
                                       : "500 Internal Server Error\n";
    c->close_after = true;
    c->unread_input = true;
    start_response(c, status, "text/plain", text, strlen(text), true);
}

static const struct http_dynamic_page *dynamic_page(const char *path)
{
    for (int i = 0; i < dynamic_page_count; i++)
        if (strcmp(path, dynamic_pages[i].path) == 0)
            return &dynamic_pages[i];
    return NULL;
}

/* Built-in pages by their exact path (a query is not part of it), then the
 * site's files, then the built-in index (which the site's own index.html
 * replaces), else 404. */
static void route(struct http_conn *c, const struct http_request *req)
{
    const struct http_dynamic_page *page;
    struct http_static_reply reply;
    bool send_body = req->method == HTTP_GET;
    if (req->method == HTTP_OTHER) {
        respond_error(c, 405);
        return;
    }
    if (strcmp(req->path, "/hello") == 0) {
        start_response(c, 200, "text/plain", hello_body, sizeof(hello_body) - 1, send_body);
    } else if ((page = dynamic_page(req->path)) != NULL) {
        size_t len;
        char *text = page->render(&len);
        if (!text) {
            respond_error(c, 500);
            return;
        }
        c->owned_body = text;
        start_response(c, 200, page->content_type, text, len, send_body);
    } else if (http_static_answer(req, wall_clock_at(&wall_clock, clock_now_ns()), &reply)) {
        start_response_with(c, reply.status, reply.content_type, reply.headers, reply.headers_len,
                            (const char *)reply.body, reply.body_len, send_body);
    } else if (strcmp(req->path, "/") == 0 || strcmp(req->path, "/index.html") == 0) {
        start_response(c, 200, "text/html; charset=utf-8", index_page, sizeof(index_page) - 1, send_body);
    } else {
        static const char not_found[] = "404 Not Found\n";
        start_response(c, 404, "text/plain", not_found, sizeof(not_found) - 1, send_body);
    }
}

/* Bytes of the response not yet handed to lwIP. */
static bool response_unwritten(const struct http_conn *c)
{
    return c->header_sent < c->header_len || c->body_sent < c->body_len;
}

/* Queues as much of the response as lwIP's send buffer takes; true when all is queued. */
static bool write_response(struct http_conn *c)
{
    while (response_unwritten(c)) {
        bool header = c->header_sent < c->header_len;
        const char *data = header ? c->header + c->header_sent : c->body + c->body_sent;
        size_t left = header ? c->header_len - c->header_sent : c->body_len - c->body_sent;
        /* Bodies in read-only data are referenced; headers and generated bodies are copied. */
        u8_t flags = !header && !c->owned_body ? 0 : TCP_WRITE_FLAG_COPY;
        size_t room = tcp_service_write_room(c->pcb, !(flags & TCP_WRITE_FLAG_COPY));
        if (room == 0)
            return false;
        u16_t n = (u16_t)(left < room ? left : room);
        if (n < left)
            flags |= TCP_WRITE_FLAG_MORE;
        if (tcp_write(c->pcb, data, n, flags) != ERR_OK)
            return false; /* out of memory: the sent or poll callback retries */
        if (header)
            c->header_sent += n;
        else
            c->body_sent += n;
        if (!header && (flags & TCP_WRITE_FLAG_COPY))
            stats.body_bytes_copied += n;
        else if (!header)
            stats.body_bytes_referenced += n;
    }
    return true;
}

/* Moves what fits of the received bytes into the request buffer. Taking
 * them from lwIP at once and keeping the rest here, rather than refusing a
 * segment that does not fit whole, lets a request that ends in it be read:
 * a client pipelining many requests at once fills the buffer mid-request. */
static void conn_fill(struct http_conn *c)
{
    while (c->pending_chains && c->request_len < c->request_cap) {
        size_t room = c->request_cap - c->request_len;
        u16_t n = c->pending[0]->tot_len < room ? c->pending[0]->tot_len : (u16_t)room;
        pbuf_copy_partial(c->pending[0], c->request + c->request_len, n, 0);
        c->request_len += n;
        c->pending_bytes -= n;
        stats.held_input -= n;
        c->pending[0] = pbuf_free_header(c->pending[0], n);
        if (!c->pending[0])
            memmove(c->pending, c->pending + 1, --c->pending_chains * sizeof(c->pending[0]));
    }
}

/* The request buffer for a header over REQUEST_BUFFER, and back. */
static bool conn_grow(struct http_conn *c)
{
    char *large = large_buffers_held < LARGE_BUFFERS_MAX ? kmalloc(HTTP_MAX_HEADER_BYTES) : NULL;
    if (!large)
        return false;
    large_buffers_held++;
    memcpy(large, c->request, c->request_len);
    c->request = c->large = large;
    c->request_cap = HTTP_MAX_HEADER_BYTES;
    stats.large_buffers++;
    return true;
}

static void conn_shrink(struct http_conn *c)
{
    memcpy(c->small, c->request, c->request_len);
    kfree(c->large);
    large_buffers_held--;
    c->large = NULL;
    c->request = c->small;
    c->request_cap = REQUEST_BUFFER;
}

/* Keeps p after what is pending; false when there is no room for it. */
static bool conn_hold(struct http_conn *c, struct pbuf *p)
{
    struct pbuf *last = c->pending_chains ? c->pending[c->pending_chains - 1] : NULL;
    if (last && last->tot_len + (u32_t)p->tot_len <= 0xFFFF)
        pbuf_cat(last, p);
    else if (c->pending_chains < PENDING_CHAINS)
        c->pending[c->pending_chains++] = p;
    else
        return false;
    c->pending_bytes += p->tot_len;
    stats.held_input += p->tot_len;
    /* Past PENDING_PBUFS, copy chains into one pbuf each, newest first (what
     * memory allows: the driver copies rather than run out of buffers). */
    unsigned held = 0;
    for (unsigned i = 0; i < c->pending_chains; i++)
        held += pbuf_clen(c->pending[i]);
    for (unsigned i = c->pending_chains; i-- && held > PENDING_PBUFS;) {
        unsigned before = pbuf_clen(c->pending[i]);
        c->pending[i] = pbuf_coalesce(c->pending[i], PBUF_RAW); /* unchanged without memory */
        held -= before - pbuf_clen(c->pending[i]);
    }
    return true;
}

/* Serves every complete request in the buffer, in order, one response at a time. */
static void process(struct http_conn *c)
{
    if (c->lingering)
        return;
    for (;;) {
        if (c->header_len) {
            if (!write_response(c)) {
                tcp_output(c->pcb);
                return; /* continue when lwIP has room */
            }
            kfree(c->owned_body);
            c->owned_body = NULL;
            c->header_len = 0;
            if (c->close_after) {
                tcp_output(c->pcb);
                if (c->unread_input || c->request_len)
                    conn_linger(c);
                else
                    conn_close(c);
                return;
            }
        }
        if (c->request_len == 0) {
            if (c->peer_closed)
                conn_close(c);
            else
                tcp_output(c->pcb);
            return;
        }
        if (tcp_sndqueuelen(c->pcb) > PIPELINE_PBUFS_MAX) {
            tcp_output(c->pcb); /* what the window lets out goes; what stays is the client's to read */
            if (c->pcb->unsent) {
                c->held_back = true; /* until the client reads (on_sent); the send timeout is its limit */
                return;
            }
        }
        if (c->held_back) {
            c->held_back = false;
            c->request_start = clock_now_ns(); /* the next request's time starts now, as when it is next */
        }
        struct http_request req;
        size_t consumed = 0;
        enum http_parse_status s = http_parse_request(c->request, c->request_len, &req, &consumed);
        if (s == HTTP_PARSE_INCOMPLETE && c->request_len == c->request_cap) {
            if (conn_grow(c)) {
                conn_fill(c);
                continue;
            }
            s = HTTP_PARSE_HEADERS_TOO_LARGE; /* no memory for a larger buffer */
        }
        if (s == HTTP_PARSE_INCOMPLETE) {
            if (c->peer_closed)
                conn_close(c);
            else
                tcp_output(c->pcb);
            return;
        }
        if (s == HTTP_PARSE_OK) {
            c->close_after = !req.keep_alive || req.has_body;
            c->unread_input = req.has_body;
            route(c, &req);
        } else {
            respond_error(c, s == HTTP_PARSE_BAD_VERSION       ? 505
                             : s == HTTP_PARSE_URI_TOO_LONG     ? 414
                             : s == HTTP_PARSE_HEADERS_TOO_LARGE ? 431
                                                                 : 400);
            consumed = c->request_len; /* the connection closes: the rest is dropped */
        }
        memmove(c->request, c->request + consumed, c->request_len - consumed);
        c->request_len -= consumed;
        if (c->large && c->request_len <= REQUEST_BUFFER)
            conn_shrink(c);
        conn_fill(c);
        if (c->request_len)
            c->request_start = clock_now_ns(); /* a pipelined request's time starts when it is next */
        /* Flow control: open the window only for what was taken out of the buffer. */
        tcp_recved(c->pcb, (u16_t)consumed);
    }
}

/* When the PCB pool is empty, lwIP's tcp_alloc aborts the longest-idle PCB
 * of a lower priority than the listener's to make room for a new connection
 * (tcp_kill_prio). A connection that has waited REUSABLE_AFTER_NS for a
 * request, with nothing of its own in flight, is put below the listener, so
 * a new client is served rather than left waiting until idle connections
 * time out: what nginx does with its reusable connections when it runs out.
 * A connection with a request or a response in progress keeps the
 * listener's priority and is never taken. */
static void conn_mark_reusable(struct http_conn *c, bool reusable)
{
    tcp_service_set_reclaimable(c->pcb, &c->reusable, reusable);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct http_conn *c = arg;
    if (err != ERR_OK) {
        if (p)
            pbuf_free(p);
        return err;
    }
    if (!p) {
        c->peer_closed = true;
        if (c->lingering)
            conn_close(c);
        else
            process(c);
        return ERR_OK;
    }
    c->last_active = clock_now_ns();
    conn_mark_reusable(c, false);
    if (c->lingering) {
        tcp_recved(pcb, p->tot_len);
        stats.input_bytes_discarded += p->tot_len;
        pbuf_free(p);
        return ERR_OK;
    }
    /* What would stay held past the buffer counts against all connections'
     * budget: a client pipelining without reading holds up to the window. */
    size_t room = c->pending_chains ? 0 : c->request_cap - c->request_len;
    if (p->tot_len > room && stats.held_input + (p->tot_len - room) > stats.held_input_max) {
        stats.input_deferred++;
        return ERR_MEM; /* lwIP keeps p and offers it again (on its 250 ms timer or the next segment) */
    }
    if (c->request_len == 0)
        c->request_start = c->last_active;
    if (p->tot_len <= room) { /* the common case: it all fits */
        pbuf_copy_partial(p, c->request + c->request_len, p->tot_len, 0);
        c->request_len += p->tot_len;
        pbuf_free(p);
    } else if (conn_hold(c, p)) {
        conn_fill(c);
    } else {
        return ERR_MEM; /* not expected (PENDING_CHAINS) */
    }
    process(c); /* tcp_recved comes there, as requests are consumed */
    return ERR_OK;
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct http_conn *c = arg;
    (void)pcb;
    (void)len;
    c->last_active = clock_now_ns();
    process(c);
    return ERR_OK;
}

/* The response has bytes lwIP has not taken, and lwIP holds none of this
 * connection's: what holds them back is memory every connection shares
 * (lwIP's segments and pbufs, which others took first), not the client. */
static bool waiting_for_memory(const struct http_conn *c)
{
    return c->header_len && response_unwritten(c) && !tcp_service_owed(c->pcb);
}

/* Once a second a connection: cold, so built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
    struct http_conn *c = arg;
    if (!c) {
        /* A close that failed for lack of memory: try again. */
        if (tcp_close(pcb) != ERR_OK)
            tcp_abort(pcb);
        return ERR_ABRT;
    }
    uint64_t now = clock_now_ns();
    if (c->lingering) {
        if (now - c->last_active > LINGER_IDLE_NS || now - c->linger_start > LINGER_MAX_NS) {
            conn_close(c); /* the pcb stays with lwIP until its FIN_WAIT_2 timeout */
            return ERR_ABRT; /* as after any close here: lwIP then leaves the pcb alone */
        }
        return ERR_OK;
    }
    if (waiting_for_memory(c))
        c->last_active = now; /* the idle timeout is the client's: not reading, not sending */
    if (now - c->last_active > (tcp_service_owed(c->pcb) ? TCP_SERVICE_SEND_TIMEOUT_NS : IDLE_TIMEOUT_NS)) {
        stats.timeouts++;
        conn_abort(c);
        return ERR_ABRT;
    }
    if (c->request_len && !c->header_len && !c->held_back && now - c->request_start > HEADER_TIMEOUT_NS) {
        stats.timeouts++; /* the header still not whole: process() leaves none waiting otherwise */
        respond_error(c, 408);
    }
    if (!c->header_len && !c->request_len && !tcp_service_owed(pcb) && now - c->last_active >= REUSABLE_AFTER_NS)
        conn_mark_reusable(c, true);
    process(c);
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    struct http_conn *c = arg;
    if (!c)
        return;
    /* lwIP already freed the pcb. Our own aborts detach first, and an idle
     * connection times out here before keepalive could give up on it, so
     * lwIP's abort of a reusable one is tcp_kill_prio's. */
    if (err == ERR_ABRT && c->reusable)
        stats.reused++;
    conn_free(c);
}

static void on_accepted(void *conn, struct tcp_pcb *pcb)
{
    struct http_conn *c = conn;
    c->pcb = pcb;
    c->request = c->small;
    c->request_cap = REQUEST_BUFFER;
    c->last_active = clock_now_ns();
    stats.connections++;
    stats.active++;
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_poll(pcb, on_poll, TCP_SERVICE_POLL_1S);
    tcp_nagle_disable(pcb); /* responses go out whole, at once */
}

static const struct tcp_service http_service = {
    .name = "http",
    .port = HTTP_PORT,
    .conn_size = sizeof(struct http_conn),
    .accepted = on_accepted,
    .refused = &stats.aborted,
};

int http_server_start(const struct http_dynamic_page *pages, int count, const struct wall_clock *clock,
                      size_t held_input_max)
{
    stats.held_input_max = held_input_max;
    dynamic_pages = pages;
    dynamic_page_count = count;
    wall_clock = *clock;
    return tcp_service_listen(&http_service);
}
