import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client takes too long to send a request: its head (the request line
/// and headers) must arrive within `headTimeout` of the connection opening or of the last response,
/// and its body within `bodyTimeout` of the head. The idle timeout alone does not do this: a client
/// that sends one byte every few seconds is never idle, and would hold its request's slot forever.
///
/// Sits after HTTP decoding: it sees request parts and response parts, and only arms and cancels a
/// timer on the connection's event loop.
final class ReadDeadline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let headTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    /// Told once for each connection closed by a deadline (for the metrics).
    let onExpiry: @Sendable (_ duringBody: Bool) -> Void
    private var timer: Scheduled<Void>?
    /// Between a request's head and its end.
    private var readingBody = false

    init(headTimeout: TimeAmount, bodyTimeout: TimeAmount, onExpiry: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.onExpiry = onExpiry
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, headTimeout, duringBody: false) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, headTimeout, duringBody: false)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            readingBody = true
            arm(context, bodyTimeout, duringBody: true)
        case .end:
            readingBody = false
            cancel()
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // After a response, the next request's head has its time again, unless this request's body
        // is still arriving (an early answer such as 413): its deadline stands.
        if case .end = unwrapOutboundIn(data), !readingBody {
            arm(context, headTimeout, duringBody: false)
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount, duringBody: Bool) {
        cancel()
        let channel = context.channel
        let onExpiry = self.onExpiry
        timer = context.eventLoop.scheduleTask(in: timeout) {
            onExpiry(duringBody)
            channel.close(promise: nil)
        }
    }

    private func cancel() {
        timer?.cancel()
        timer = nil
    }
}
