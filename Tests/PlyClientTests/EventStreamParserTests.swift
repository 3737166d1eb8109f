import NIOCore
import PlyClient
import Testing

/// The event stream parser against the HTML standard's own examples (9.2.6) and its line and
/// field rules: each stream is fed whole, a byte at a time, and cut at every place, and must
/// give the same events every way.
struct EventStreamParserTests {
    typealias Item = EventStreamParser.Item

    static func event(_ data: String, id: String = "", type: String = "message") -> Item {
        .event(EventStreamParser.Event(type: type, data: data, lastEventID: id))
    }

    /// Every way of cutting a stream in two, and a byte at a time, gives what feeding it whole does.
    func parse(_ text: String) -> [Item] {
        let bytes = Array(text.utf8)
        var whole = EventStreamParser()
        let expected = whole.feed(ByteBuffer(bytes: bytes))
        var single = EventStreamParser()
        let byByte = bytes.flatMap { single.feed(ByteBuffer(bytes: [$0])) }
        #expect(byByte == expected, "a byte at a time")
        for cut in 0...bytes.count {
            var parser = EventStreamParser()
            let pieces = parser.feed(ByteBuffer(bytes: bytes[..<cut])) + parser.feed(ByteBuffer(bytes: bytes[cut...]))
            #expect(pieces == expected, "cut at \(cut)")
        }
        return expected
    }

    @Test func multiLineData() {
        #expect(parse("data: YHOO\ndata: +2\ndata: 10\n\n") == [Self.event("YHOO\n+2\n10")])
    }

    @Test func commentsIdsAndAnEventLeftUnfinished() {
        let stream = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
        #expect(parse(stream) == [.comment, Self.event("first event", id: "1"), Self.event("second event"), ])
    }

    @Test func emptyDataAndADanglingField() {
        #expect(parse("data\n\ndata\ndata\n\ndata:") == [Self.event(""), Self.event("\n")])
    }

    @Test func oneSpaceAfterTheColonIsDropped() {
        #expect(parse("data:test\n\ndata: test\n\n") == [Self.event("test"), Self.event("test")])
    }

    @Test(arguments: ["\n", "\r", "\r\n"])
    func everyLineEnding(_ end: String) {
        let stream = ["retry: 2000", "", "id: 4", "data: {\"v\":4}", "", ": heartbeat", "event: update", "data: x", ""].joined(separator: end) + end
        #expect(parse(stream) == [.retry(2000), Self.event("{\"v\":4}", id: "4"), .comment, Self.event("x", id: "4", type: "update")])
    }

    @Test func theLastEventIDOutlivesItsEventAndAnIDWithNULIsIgnored() {
        #expect(parse("id: 7\ndata: a\n\ndata: b\n\nid: 8\u{0}\ndata: c\n\n") == [Self.event("a", id: "7"), Self.event("b", id: "7"), Self.event("c", id: "7")])
    }

    @Test func retryTakesDigitsOnly() {
        #expect(parse("retry: 100\nretry: 1e3\nretry: -5\nretry:\nretry: 250\n\n") == [.retry(100), .retry(250)])
    }

    @Test func aByteOrderMarkAtTheStartIsDropped() {
        #expect(parse("\u{FEFF}data: a\n\n") == [Self.event("a")])
        // Only at the very start: later, it is part of the data.
        #expect(parse("data: a\n\n\u{FEFF}data: b\n\n") == [Self.event("a")])
    }

    @Test func unknownFieldsAreIgnoredAndAFieldWithoutAColonHasAnEmptyValue() {
        #expect(parse("foo: bar\ndata\nevent\n\n") == [Self.event("")])
    }
}
