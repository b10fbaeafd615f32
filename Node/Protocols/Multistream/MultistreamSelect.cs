using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace P2PSwarm.Node.Protocols.Multistream;

/// <summary>
/// multistream-select 1.0: agrees on one protocol for a byte stream. Both sides consume exactly the
/// negotiation messages, so bytes the peer pipelined after them stay in the <see cref="PipeReader"/> for the
/// selected protocol.
/// </summary>
public static class MultistreamSelect
{
    /// <summary>The header both sides send first.</summary>
    public const string ProtocolId = "/multistream/1.0.0";

    /// <summary>
    /// Dialer side: proposes <paramref name="protocols"/> in order and returns the first the listener echoes.
    /// The header and the first proposal go out in one write without waiting for the listener, which
    /// js-libp2p requires (its listener stays silent until it hears a header).
    /// </summary>
    /// <exception cref="ProtocolNotSupportedException">The listener answered <c>na</c> to every proposal.</exception>
    /// <exception cref="MultistreamProtocolException">The listener broke the protocol.</exception>
    public static async Task<string> SelectAsync(IDuplexPipe pipe, IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        ArgumentNullException.ThrowIfNull(protocols);
        if (protocols.Count == 0)
        {
            throw new ArgumentException("Propose at least one protocol.", nameof(protocols));
        }

        MultistreamMessage.Write(pipe.Output, ProtocolId);
        MultistreamMessage.Write(pipe.Output, protocols[0]);
        await FlushAsync(pipe.Output, cancellationToken);

        var header = await ReadMessageAsync(pipe.Input, cancellationToken);
        if (header != ProtocolId)
        {
            throw new MultistreamProtocolException($"Expected the header {ProtocolId}, got {Printable(header)}.");
        }

        for (var index = 0; index < protocols.Count; index++)
        {
            if (index > 0)
            {
                MultistreamMessage.Write(pipe.Output, protocols[index]);
                await FlushAsync(pipe.Output, cancellationToken);
            }

            var answer = await ReadMessageAsync(pipe.Input, cancellationToken);
            if (answer == protocols[index])
            {
                return answer;
            }

            if (answer != MultistreamMessage.NotAvailable)
            {
                throw new MultistreamProtocolException($"Proposed '{protocols[index]}', the listener answered {Printable(answer)}.");
            }
        }

        throw new ProtocolNotSupportedException(protocols);
    }

    /// <summary>
    /// Listener side: answers proposals until one is supported, echoes it and returns it. Unknown protocols get
    /// <c>na</c> and the dialer may try again; <c>ls</c> gets an empty list because a predicate cannot list.
    /// </summary>
    /// <exception cref="MultistreamProtocolException">The dialer broke the protocol.</exception>
    public static Task<string> HandleAsync(IDuplexPipe pipe, Func<string, bool> isSupported, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(isSupported);
        return HandleAsync(pipe, isSupported, [], cancellationToken);
    }

    /// <summary>Listener side for a fixed protocol set, which <c>ls</c> lists.</summary>
    /// <exception cref="MultistreamProtocolException">The dialer broke the protocol.</exception>
    public static Task<string> HandleAsync(IDuplexPipe pipe, IReadOnlyCollection<string> protocols, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(protocols);
        return HandleAsync(pipe, protocols.Contains, protocols, cancellationToken);
    }

    private static async Task<string> HandleAsync(IDuplexPipe pipe, Func<string, bool> isSupported, IReadOnlyCollection<string> listed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        var header = await ReadMessageAsync(pipe.Input, cancellationToken);
        if (header != ProtocolId)
        {
            throw new MultistreamProtocolException($"Expected the header {ProtocolId}, got {Printable(header)}.");
        }

        // The echoed header waits in the writer so that it leaves together with the answer when the dialer
        // pipelined its proposal; ReadMessageAsync flushes it before blocking if the dialer waits for it.
        MultistreamMessage.Write(pipe.Output, ProtocolId);
        while (true)
        {
            var proposal = await ReadMessageAsync(pipe.Input, cancellationToken, pipe.Output);
            if (proposal == MultistreamMessage.List)
            {
                MultistreamMessage.WriteList(pipe.Output, listed);
                continue;
            }

            if (isSupported(proposal))
            {
                MultistreamMessage.Write(pipe.Output, proposal);
                await FlushAsync(pipe.Output, cancellationToken);
                return proposal;
            }

            MultistreamMessage.Write(pipe.Output, MultistreamMessage.NotAvailable);
        }
    }

    /// <summary>
    /// Reads one message, consuming exactly its bytes. When it must wait for the peer it first flushes
    /// <paramref name="pendingOutput"/>, so a reply never sits unsent while both sides wait.
    /// </summary>
    private static async ValueTask<string> ReadMessageAsync(PipeReader input, CancellationToken cancellationToken, PipeWriter? pendingOutput = null)
    {
        while (true)
        {
            if (input.TryRead(out var result) && TryTakeMessage(input, result, out var text))
            {
                return text;
            }

            if (pendingOutput is not null && pendingOutput.UnflushedBytesOrUnknown() != 0)
            {
                await FlushAsync(pendingOutput, cancellationToken);
            }

            result = await input.ReadAsync(cancellationToken);
            if (TryTakeMessage(input, result, out text))
            {
                return text;
            }
        }
    }

    private static bool TryTakeMessage(PipeReader input, ReadResult result, out string text)
    {
        var buffer = result.Buffer;
        MultistreamScanStatus status;
        SequencePosition consumed;
        try
        {
            status = MultistreamMessage.TryRead(buffer, out text, out consumed);
        }
        catch
        {
            input.AdvanceTo(buffer.Start);
            throw;
        }

        if (status == MultistreamScanStatus.Ok)
        {
            input.AdvanceTo(consumed);
            return true;
        }

        input.AdvanceTo(buffer.Start, buffer.End);
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The read was cancelled during multistream-select.");
        }

        if (result.IsCompleted)
        {
            throw new MultistreamProtocolException(buffer.IsEmpty
                ? "The stream ended during multistream-select."
                : $"The stream ended during multistream-select, inside a message: {MultistreamMessage.Describe(buffer)} is not a whole length-prefixed message.");
        }

        return false;
    }

    private static async ValueTask FlushAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        var flush = await output.FlushAsync(cancellationToken);
        if (flush.IsCompleted)
        {
            throw new MultistreamProtocolException("The peer stopped reading during multistream-select.");
        }
    }

    private static long UnflushedBytesOrUnknown(this PipeWriter writer) =>
        writer.CanGetUnflushedBytes ? writer.UnflushedBytes : -1;

    private static string Printable(string text) => MultistreamMessage.Describe(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text)));
}
