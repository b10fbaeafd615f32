using System.Buffers;
using System.IO.Pipelines;
using P2PSwarm.Node.Dht.Messages;
using P2PSwarm.Node.Identity;

namespace P2PSwarm.Node.Dht;

/// <summary>How a served kad stream ended.</summary>
public enum KadServeStatus
{
    /// <summary>The remote half-closed after its last request; close our side too.</summary>
    Completed,

    /// <summary>A request was refused (invalid record, quota); reset the stream, as js does when a handler throws.</summary>
    Rejected,

    /// <summary>The remote sent bytes that are not kad-dht frames, or exceeded a limit; reset the stream.</summary>
    ProtocolViolation,

    /// <summary>No complete request arrived within the read timeout; reset the stream.</summary>
    TimedOut,
}

public readonly record struct KadServeOutcome(KadServeStatus Status, int RequestsServed, string? Reason = null);

/// <summary>
/// kad-dht over one byte stream, both roles, socket-free: the requester writes one frame and reads one frame;
/// the server answers frames until the remote half-closes. The Host adapter only negotiates
/// <c>/p2pswarm/kad/1.0.0</c> and hands the stream here.
/// </summary>
public static class KadStreamProtocol
{
    /// <summary>Protocol id of the p2pswarm DHT (the kad-dht wire format under our own id).</summary>
    public const string ProtocolId = "/p2pswarm/kad/1.0.0";

    /// <summary>How long a served stream may sit between requests, and a requester wait for its answer (js READ_MESSAGE_TIMEOUT: 10 s).</summary>
    public static readonly TimeSpan DefaultReadTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Sends <paramref name="request"/> and reads its response. ADD_PROVIDER has none: the output is half-closed
    /// and <see cref="KadResponse.Sent"/> returned. Failures are values (the caller then resets the stream);
    /// only <paramref name="cancellationToken"/> throws.
    /// </summary>
    public static async Task<KadResponse> RequestAsync(
        IDuplexPipe stream,
        KadMessage request,
        KadMessageLimits limits,
        TimeSpan readTimeout,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(limits);
        try
        {
            KadMessageCodec.WriteFrame(request, stream.Output);
            FlushResult flushed = await stream.Output.FlushAsync(cancellationToken);
            if (flushed.IsCompleted)
            {
                return KadResponse.Failed(KadRpcFailure.Unreachable, "the remote closed the stream before the request was sent");
            }
        }
        catch (IOException ex)
        {
            return KadResponse.Failed(KadRpcFailure.Unreachable, ex.Message);
        }

        if (request.Type == KadMessageType.AddProvider)
        {
            await stream.Output.CompleteAsync();
            return KadResponse.Sent;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(readTimeout);
        try
        {
            (KadMessage? response, bool ended) = await ReadMessageAsync(stream.Input, limits, deadline.Token);
            await stream.Output.CompleteAsync();
            return response is not null
                ? KadResponse.Ok(response)
                : KadResponse.Failed(KadRpcFailure.ProtocolViolation, ended ? "stream closed without a response" : "no response");
        }
        catch (KadProtocolException ex)
        {
            return KadResponse.Failed(KadRpcFailure.ProtocolViolation, ex.Message);
        }
        catch (IOException ex)
        {
            return KadResponse.Failed(KadRpcFailure.Unreachable, ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return KadResponse.Failed(KadRpcFailure.Timeout, $"no response within {readTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>
    /// Answers requests from <paramref name="remote"/> until it half-closes. On any outcome other than
    /// <see cref="KadServeStatus.Completed"/> the caller resets the stream.
    /// </summary>
    public static async Task<KadServeOutcome> ServeAsync(
        IDuplexPipe stream,
        PeerId remote,
        KadRequestHandler handler,
        KadMessageLimits limits,
        TimeSpan readTimeout,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(remote);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(limits);
        int served = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (true)
            {
                deadline.CancelAfter(readTimeout);
                (KadMessage? request, _) = await ReadMessageAsync(stream.Input, limits, deadline.Token);
                if (request is null)
                {
                    await stream.Output.CompleteAsync();
                    return new KadServeOutcome(KadServeStatus.Completed, served);
                }

                KadHandlerOutcome outcome = handler.Handle(remote, request);
                if (outcome.Rejection is { } reason)
                {
                    return new KadServeOutcome(KadServeStatus.Rejected, served, reason);
                }

                if (outcome.Response is { } response)
                {
                    KadMessageCodec.WriteFrame(response, stream.Output);
                    await stream.Output.FlushAsync(cancellationToken);
                }

                served++;
            }
        }
        catch (KadProtocolException ex)
        {
            return new KadServeOutcome(KadServeStatus.ProtocolViolation, served, ex.Message);
        }
        catch (IOException ex)
        {
            // The remote reset the stream: nothing to answer, nothing to tear down beyond this stream.
            return new KadServeOutcome(KadServeStatus.Completed, served, ex.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new KadServeOutcome(KadServeStatus.TimedOut, served, $"no request within {readTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Reads one frame; (null, true) at a clean end of stream. A partial frame at the end is a violation.</summary>
    private static async Task<(KadMessage? Message, bool Ended)> ReadMessageAsync(PipeReader input, KadMessageLimits limits, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult read = await input.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = read.Buffer;
            KadFrameStatus status;
            ReadOnlySequence<byte> body;
            SequencePosition consumed;
            try
            {
                status = KadFrameScanner.TryReadFrame(buffer, limits.MaxMessageBytes, out body, out consumed);
            }
            catch (KadProtocolException)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                throw;
            }

            if (status == KadFrameStatus.Frame)
            {
                try
                {
                    return (KadMessageCodec.Decode(body, limits), false);
                }
                finally
                {
                    input.AdvanceTo(consumed);
                }
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
            {
                if (buffer.IsEmpty)
                {
                    return (null, true);
                }

                throw new KadProtocolException($"Stream ended inside a frame ({buffer.Length} bytes pending).");
            }
        }
    }
}
