// The one translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION):
// every other file includes their headers only, which keeps the 2-core build short.
#include <utility>  // GCC 12 with Boost 1.74: Asio's coroutine headers need std::exchange first.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
