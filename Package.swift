// swift-tools-version: 6.0
// ply: a terminal multiplayer turn-based game served over HTTP long-polling and WebSocket.
//
// Dependencies point one way (each module imports only modules above it):
//   PlyEngine    pure rules and matches (standard library only)
//   PlyWire      JSON messages shared by server and clients
//   PlyStore     durable match logs behind a small store protocol (SQLite in WAL mode, or memory)
//   PlyPostgres  the same store on PostgreSQL, shared by many servers, with LISTEN/NOTIFY
//   PlyAuthority the transport-free authority over every match: commands in, encoded events out
//   PlyCompression  permessage-deflate (RFC 7692) and gzip bodies, bounded, on zlib (compress-nio)
//   PlyServer    the authority behind two transports on one port (Hummingbird, swift-nio's WebSocket parts)
//   PlyClient    one client API over both transports (swift-nio's HTTP and WebSocket parts)
//   PlyBots      strategies (random, greedy, minimax) and headless bots over PlyClient
//   PlyRelay     a TCP relay that delays, counts and cuts traffic (tests, benchmark)
//   PlyTerminal  the ncurses client: a pure model and view, and a thin ncurses shell (CNcurses)
//   PlyBench     the benchmark: both transports and a raw TCP floor, side by side
//   ply          the one executable
import PackageDescription

let package = Package(
    name: "ply",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ply", targets: ["ply"]),
        .library(name: "PlyEngine", targets: ["PlyEngine"]),
        .library(name: "PlyWire", targets: ["PlyWire"]),
        .library(name: "PlyStore", targets: ["PlyStore"]),
        .library(name: "PlyPostgres", targets: ["PlyPostgres"]),
        .library(name: "PlyAuthority", targets: ["PlyAuthority"]),
        .library(name: "PlyCompression", targets: ["PlyCompression"]),
        .library(name: "PlyServer", targets: ["PlyServer"]),
        .library(name: "PlyClient", targets: ["PlyClient"]),
        .library(name: "PlyBots", targets: ["PlyBots"]),
        .library(name: "PlyRelay", targets: ["PlyRelay"]),
        .library(name: "PlyTerminal", targets: ["PlyTerminal"]),
        .library(name: "PlyBench", targets: ["PlyBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
    ],
    targets: [
        // The rules of each game and the match (seats, turns, event log). Standard library only.
        .target(name: "PlyEngine"),
        // Commands, events, acknowledgements and errors as they cross the wire, shared by server and clients.
        .target(name: "PlyWire", dependencies: ["PlyEngine", .product(name: "NIOCore", package: "swift-nio")]),
        // Match logs made durable: a store protocol and its SQLite implementation.
        .target(
            name: "PlyStore",
            dependencies: [
                "PlyEngine",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The match store on PostgreSQL: many servers share it, the database orders each match's
        // events, and its notifications tell every server what the others appended.
        .target(
            name: "PlyPostgres",
            dependencies: [
                "PlyStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The authority over every match, knowing no transport: commands in, durable encoded events
        // out to subscribers. Unit-testable with the memory store and a manual clock.
        .target(
            name: "PlyAuthority",
            dependencies: [
                "PlyEngine",
                "PlyWire",
                "PlyStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        // Compression both ends share: permessage-deflate negotiated and applied per message with
        // every inflation bounded, and gzip for HTTP bodies.
        .target(
            name: "PlyCompression",
            dependencies: [
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The authority's two transports, HTTP long-polling and WebSocket, and the connection layer, on one port.
        .target(
            name: "PlyServer",
            dependencies: [
                "PlyEngine",
                "PlyWire",
                "PlyStore",
                "PlyAuthority",
                "PlyCompression",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The client side of both transports, with wire statistics counted at the socket.
        .target(
            name: "PlyClient",
            dependencies: [
                "PlyEngine",
                "PlyWire",
                "PlyCompression",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Bot strategies (pure, over the engine) and bots that play over a match connection.
        .target(name: "PlyBots", dependencies: ["PlyEngine", "PlyWire", "PlyClient"]),
        // A TCP relay that adds delay, counts bytes and cuts connections.
        .target(
            name: "PlyRelay",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // ncurses, for the terminal client only.
        .systemLibrary(name: "CNcurses", providers: [.apt(["libncurses-dev"])]),
        // The terminal client: state, update and render are pure; Screen is the only ncurses user.
        .target(name: "PlyTerminal", dependencies: ["PlyEngine", "PlyWire", "PlyClient", "PlyBots", "CNcurses"]),
        // The benchmark: ply serve and the raw TCP floor as child processes, bots as load, reports.
        .target(
            name: "PlyBench",
            dependencies: [
                "PlyEngine",
                "PlyWire",
                "PlyClient",
                "PlyBots",
                "PlyRelay",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "ply",
            dependencies: [
                "PlyEngine",
                "PlyWire",
                "PlyServer",
                "PlyStore",
                "PlyPostgres",
                "PlyAuthority",
                "PlyClient",
                "PlyBots",
                "PlyTerminal",
                "PlyBench",
                "PlyRelay",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PlyEngineTests", dependencies: ["PlyEngine"]),
        .testTarget(name: "PlyWireTests", dependencies: ["PlyWire", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "PlyBotsTests", dependencies: ["PlyBots"]),
        // Negotiation tables and the codecs' bounds, without a network.
        .testTarget(name: "PlyCompressionTests", dependencies: ["PlyCompression", .product(name: "NIOCore", package: "swift-nio")]),
        // The client's parts that need no server: the event stream parser.
        .testTarget(name: "PlyClientTests", dependencies: ["PlyClient", .product(name: "NIOCore", package: "swift-nio")]),
        // The authority without any network: the memory store, a failing store, a manual clock.
        .testTarget(name: "PlyAuthorityTests", dependencies: ["PlyAuthority", "PlyStore"]),
        .testTarget(name: "PlyTerminalTests", dependencies: ["PlyTerminal", "PlyBench", "ply"]),
        .testTarget(
            // Tests against a real server on a free port: both transports, the client, bots.
            name: "LiveTests",
            dependencies: [
                "PlyServer",
                "PlyStore",
                "PlyPostgres",
                "PlyAuthority",
                "PlyCompression",
                "PlyClient",
                "PlyBots",
                "PlyRelay",
                "PlyBench",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
            ]
        ),
    ]
)
