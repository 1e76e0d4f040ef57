//! One test suite for every runtime and TLS library: each test is written once, as an async
//! function generic over the client's runtime ([`runtimes::TestRuntime`]) and, for wss://,
//! over the TLS library ([`support::Backend`]); [`suite!`] instantiates every test for
//! tokio, smol and async-std, and every TLS test for native-tls and rustls:
//!
//! ```text
//! suite::tokio::loopback::large_messages
//! suite::smol::tls::rustls::an_untrusted_certificate_is_a_certificate_error_with_advice
//! suite::async_std::proxy::native_tls::socks5h_carries_wss
//! ```
//!
//! The servers (echo, silent, scripted, proxies) run on a tokio runtime of their own
//! ([`servers`]), whatever runtime the client runs on. Every test runs on a fresh executor
//! and fails after [`support::LIMIT`] rather than hang.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

#[path = "../runtimes/mod.rs"]
mod runtimes;

mod happy_eyeballs;
#[cfg(feature = "http2")]
mod http2;
#[cfg(feature = "http2")]
mod http2_flow;
mod loopback;
mod proxies;
mod proxy;
mod reconnect;
mod redirect;
mod servers;
mod support;
mod tls;

/// `#[test]`s for one module of the suite on runtime `$rt`: the `plain` tests once, the
/// `tls` tests once per TLS library (in submodules `native_tls` and `rustls`).
macro_rules! tests {
    ($rt:ident, $module:ident, plain: [$($plain:ident),* $(,)?], tls: [$($tls:ident),* $(,)?]) => {
        pub mod $module {
            $(
                #[test]
                fn $plain() {
                    $crate::support::run::<$crate::runtimes::$rt>(
                        $crate::$module::$plain::<$crate::runtimes::$rt>(),
                    );
                }
            )*
            tests!(@tls $rt, $module, native_tls, NativeTls, [$($tls),*]);
            tests!(@tls $rt, $module, rustls, Rustls, [$($tls),*]);
        }
    };
    (@tls $rt:ident, $module:ident, $lib:ident, $backend:ident, [$($tls:ident),*]) => {
        pub mod $lib {
            $(
                #[test]
                fn $tls() {
                    $crate::support::run::<$crate::runtimes::$rt>(
                        $crate::$module::$tls::<$crate::runtimes::$rt, $crate::support::$backend>(),
                    );
                }
            )*
        }
    };
}

/// Every test of the suite on runtime `$rt`, in module `$name`.
macro_rules! suite {
    ($name:ident => $rt:ident) => {
        mod $name {
            tests!($rt, loopback, plain: [
                text_and_binary_round_trip,
                fragmented_messages_both_ways,
                large_messages,
                message_over_the_limit_fails_with_1009,
                open_timeout_when_the_server_says_nothing,
                close_returns_after_the_close_timeout_when_the_server_never_answers,
                keepalive_fails_when_pings_go_unanswered,
                keepalive_pings_are_answered_by_a_live_server,
                refused_connection_is_a_readable_error,
                dns_failure_is_a_readable_error,
                bad_url_is_a_handshake_error_before_any_io,
                request_check_refusal_reaches_the_client_as_403,
                connect_on_and_accept_over_user_opened_streams,
                split_halves_work_from_two_tasks,
            ], tls: []);
            tests!($rt, tls, plain: [], tls: [
                wss_with_a_private_ca,
                an_untrusted_certificate_is_a_certificate_error_with_advice,
                a_plain_server_behind_a_wss_url_is_a_tls_error,
                a_client_certificate_is_accepted_by_a_server_requiring_one,
                the_tls_step_times_out_on_a_silent_server,
            ]);
            tests!($rt, proxy, plain: [
                http_connect_proxy_carries_ws,
                http_proxy_basic_auth_is_sent,
                http_proxy_refusing_credentials_is_a_readable_407,
                http_proxy_403_and_502_are_typed_with_their_status,
                unreachable_proxy_is_named_in_the_error,
                a_proxy_that_never_answers_times_out_at_the_proxy_step,
                socks5h_sends_the_name_and_socks5_the_address,
                socks5_user_password_accepted_and_refused,
                proxy_from_env_honours_no_proxy_through_the_lookup,
                an_invalid_proxy_url_fails_before_any_connection,
                bytes_after_the_proxy_answer_are_read_before_the_stream,
            ], tls: [
                http_connect_proxy_carries_wss_with_tls_to_the_target,
                socks5h_carries_wss,
            ]);
            tests!($rt, redirect, plain: [
                a_chain_of_absolute_and_relative_redirects_is_followed,
                a_redirect_loop_ends_at_the_hop_limit_naming_the_chain,
                no_redirects_reports_the_redirect,
                no_credential_reaches_another_origin,
                a_redirect_hook_can_refuse_a_hop_or_add_a_credential_for_the_new_host,
                the_proxy_is_chosen_again_for_every_hop,
            ], tls: [
                a_redirect_from_wss_to_ws_is_refused,
                a_redirect_from_ws_to_wss_opens_tls_on_the_new_hop,
            ]);
            tests!($rt, reconnect, plain: [
                the_hook_runs_after_every_reconnect_and_no_message_is_lost_to_it,
                events_come_in_order_across_drops,
                backoff_is_bounded_and_attempts_are_limited,
                a_403_on_reconnect_stops_it,
                close_ends_the_logical_connection,
                recv_is_cancel_safe_during_backoff_and_the_hook,
                a_send_that_fails_is_the_reported_disconnect_reason,
                a_server_that_closes_at_once_is_retried_ever_more_slowly,
                a_connection_that_stayed_up_resets_the_backoff,
                a_policy_close_ends_the_reconnecting_client_with_its_code_and_reason,
                close_codes_the_user_lists_end_it_too,
            ], tls: []);
            #[cfg(feature = "http2")]
            tests!($rt, http2, plain: [
                h2c_echoes_and_closes_cleanly,
                a_close_ends_without_waiting_for_the_server_to_end_the_stream,
                websockets_to_one_origin_share_one_connection,
                a_full_connection_makes_the_next_websocket_dial_another,
                without_extended_connect_require_fails_with_a_typed_error,
                a_reset_mid_message_is_a_typed_error_and_spares_the_other_streams,
                goaway_with_open_streams_is_a_typed_error,
                a_200_with_an_unoffered_extension_is_the_handshake_error,
                a_window_that_never_opens_times_out_the_write,
            ], tls: [
                wss_prefer_runs_over_h2_when_alpn_agrees,
                wss_prefer_falls_back_to_http1_without_extended_connect,
            ]);
            #[cfg(feature = "http2")]
            tests!($rt, http2_flow, plain: [
                h2c_through_an_http_proxy_is_one_tunnel_for_every_websocket,
                h2c_through_socks5_is_one_tunnel_for_every_websocket,
                a_redirect_over_h2_is_followed_on_the_same_connection,
                the_reconnecting_client_comes_back_over_h2_after_a_goaway,
                h2c_to_an_http1_only_server_says_what_to_change,
                a_200_without_the_offered_extension_opens_uncompressed,
            ], tls: [
                wss_over_h2_through_an_http_proxy_negotiates_alpn_with_the_target,
            ]);
            tests!($rt, happy_eyeballs, plain: [
                a_dead_first_address_opens_through_the_second_well_within_the_timeout,
                the_connect_timeout_bounds_a_race_where_every_address_hangs,
                every_address_refusing_is_named_in_the_error,
            ], tls: []);
        }
    };
}

suite!(tokio => Tokio);
suite!(smol => Smol);
suite!(async_std => AsyncStd);
