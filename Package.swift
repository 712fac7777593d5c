// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Plutus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "plutus", targets: ["plutus"]),
        .executable(name: "plutus-bench", targets: ["plutus-bench"]),
        .library(name: "PlutusCore", targets: ["PlutusCore"]),
        .library(name: "PlutusStore", targets: ["PlutusStore"]),
        .library(name: "PlutusSQLite", targets: ["PlutusSQLite"]),
        .library(name: "PlutusPostgres", targets: ["PlutusPostgres"]),
        .library(name: "PlutusServer", targets: ["PlutusServer"]),
        .library(name: "PlutusAlerts", targets: ["PlutusAlerts"]),
        .library(name: "PlutusClient", targets: ["PlutusClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
    ],
    targets: [
        .target(
            name: "PlutusCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(name: "PlutusStore", dependencies: ["PlutusCore"], swiftSettings: strict),
        .target(
            name: "PlutusConfig",
            dependencies: ["PlutusCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "PlutusStoreTesting",
            dependencies: ["PlutusStore", "PlutusCore"],
            swiftSettings: strict
        ),
        // A stand-in for the OpenAI and Anthropic APIs, for the gateway's tests and benchmark.
        .target(
            name: "PlutusGatewayTesting",
            dependencies: [
                "PlutusCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(name: "CSQLiteTuning", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // OTLP/HTTP traces and logs as usage events; PlutusOTLPProto is made by
        // scripts/generate-protos from Protos/ and committed.
        .target(name: "PlutusOTLPProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(
            name: "PlutusOTLP",
            dependencies: [
                "PlutusCore", "CZlib", "PlutusOTLPProto", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PlutusSQLite",
            dependencies: [
                "CSQLiteTuning",
                "PlutusStore",
                "PlutusCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PlutusPostgres",
            dependencies: [
                "PlutusStore",
                "PlutusCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PlutusStripe",
            dependencies: [
                "PlutusCore",
                "PlutusStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PlutusAlerts",
            dependencies: [
                "PlutusCore",
                "PlutusStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PlutusServer",
            dependencies: [
                "PlutusCore",
                "PlutusStore",
                "PlutusOTLP",
                "PlutusStripe",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The Swift client library: a Meter over HTTP or over a store in the same process.
        .target(
            name: "PlutusClient",
            dependencies: [
                "PlutusCore", "PlutusStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "agent-meter-example",
            dependencies: ["PlutusClient", "PlutusCore"],
            path: "Examples/AgentMeter",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "plutus",
            dependencies: [
                "PlutusConfig",
                "PlutusCore",
                "PlutusStore",
                "PlutusSQLite",
                "PlutusPostgres",
                "PlutusServer",
                "PlutusStripe",
                "PlutusAlerts",
                "PlutusClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The benchmarks: their own executable, reaching store internals through `package` access.
        .executableTarget(
            name: "plutus-bench",
            dependencies: [
                "PlutusCore",
                "PlutusStore",
                "PlutusSQLite",
                "PlutusPostgres",
                "PlutusServer",
                "PlutusGatewayTesting",
                "PlutusOTLPProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/PlutusBench",
            swiftSettings: strict
        ),
        .testTarget(name: "PlutusCoreTests", dependencies: ["PlutusCore"], swiftSettings: strict),
        .testTarget(name: "PlutusConfigTests", dependencies: ["PlutusConfig", "PlutusCore"], swiftSettings: strict),
        .testTarget(
            name: "PlutusStoreTests",
            dependencies: ["PlutusStore", "PlutusCore"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlutusSQLiteTests",
            dependencies: [
                "PlutusSQLite", "PlutusStoreTesting", "PlutusStore", "PlutusCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlutusPostgresTests",
            dependencies: [
                "PlutusPostgres", "PlutusStoreTesting", "PlutusStore", "PlutusCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlutusServerTests",
            dependencies: [
                "PlutusServer", "PlutusSQLite", "PlutusStore", "PlutusStoreTesting", "PlutusCore", "PlutusGatewayTesting",
                "PlutusAlerts", "PlutusOTLP", "PlutusOTLPProto", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["gateway_sdks.py", "otlp_export.py", "Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlutusStripeTests",
            dependencies: [
                "PlutusStripe", "PlutusServer", "PlutusCore", "PlutusStore", "PlutusSQLite", "PlutusStoreTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlutusAlertsTests",
            dependencies: [
                "PlutusAlerts", "PlutusSQLite", "PlutusStore", "PlutusStoreTesting", "PlutusCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["smtp_server.py"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlutusCLITests",
            dependencies: [
                "plutus", "plutus-bench", "agent-meter-example", "PlutusCore", "PlutusStoreTesting", "PlutusPostgres",
                "PlutusGatewayTesting", "PlutusClient", "PlutusSQLite", "PlutusStore",
            ],
            exclude: ["narrow_viewport.py", "sign_in_browser.py", "flaky_proxy.py", "Fixtures"],
            swiftSettings: strict
        ),
    ]
)
