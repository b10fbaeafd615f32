using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace P2PSwarm.Node.Tests.Hosting;

/// <summary>Keeps every log entry so tests can check that a teardown was logged with its reason.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider, ILoggerFactory
{
    public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public bool Contains(int eventId, string fragment) =>
        Entries.Any(e => e.EventId == eventId && e.Message.Contains(fragment, StringComparison.OrdinalIgnoreCase));

    private sealed class CapturingLogger(CapturingLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider.Entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
    }
}
