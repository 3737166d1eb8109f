import Foundation
import PlyEngine
import NIOWebSocket
import PlyServer
import Testing

/// The error catalogue in the code and the table in docs/protocol.md are the same: every code,
/// its HTTP status and the close code of a refused WebSocket upgrade.
struct ErrorCatalogueTests {
    struct Row: Equatable, CustomStringConvertible {
        let code: String
        let http: Int?
        let refusal: Int?
        var description: String { "\(code) \(http.map(String.init) ?? "(WebSocket)") \(refusal.map(String.init) ?? "—")" }
    }

    static func documentedRows() throws -> [Row] {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/protocol.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let section = try #require(text.components(separatedBy: "\n## Errors\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        return section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { line in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return Row(code: cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")), http: Int(cells[1]), refusal: Int(cells[2]))
        }
    }

    @Test func theDocumentedTableIsTheCatalogue() throws {
        let documented = try Self.documentedRows()
        let catalogue = ErrorCode.allCases.map { code in
            Row(code: code.rawValue, http: code.httpStatus.map { Int($0.code) }, refusal: code.upgradeRefusalCloseCode.map { Int(UInt16(webSocketErrorCode: $0)) })
        }
        #expect(Set(documented.map(\.code)).count == documented.count, "each code is documented once")
        #expect(documented.sorted { $0.code < $1.code } == catalogue.sorted { $0.code < $1.code })
    }
}
