// swift-tools-version: 6.0
// ply: a terminal multiplayer turn-based game served over HTTP long-polling and WebSocket.
//
// Dependencies point one way:
//   PlyEngine (pure rules, matches)  <-  PlyWire (JSON messages)  <-  ply (executable)
import PackageDescription

let package = Package(
    name: "ply",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ply", targets: ["ply"]),
        .library(name: "PlyEngine", targets: ["PlyEngine"]),
        .library(name: "PlyWire", targets: ["PlyWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The rules of each game and the match (seats, turns, event log). Standard library only.
        .target(name: "PlyEngine"),
        // Commands, events, acknowledgements and errors as they cross the wire, shared by server and clients.
        .target(name: "PlyWire", dependencies: ["PlyEngine"]),
        .executableTarget(
            name: "ply",
            dependencies: [
                "PlyEngine",
                "PlyWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "PlyEngineTests", dependencies: ["PlyEngine"]),
        .testTarget(name: "PlyWireTests", dependencies: ["PlyWire"]),
    ]
)
