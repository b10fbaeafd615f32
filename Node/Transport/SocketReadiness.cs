using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace P2PSwarm.Node.Transport;

/// <summary>
/// Waits for a socket to become readable with <c>poll(2)</c> on the calling thread. .NET's own synchronous receive on
/// a socket that has been used asynchronously waits through its epoll thread (one more wake-up per burst, and an
/// event object per wait); a dedicated receive thread calls this instead and is woken by the kernel directly.
/// </summary>
internal static partial class SocketReadiness
{
    private const short PollIn = 0x001;
    private const short PollRdHup = 0x2000;
    private const int Interrupted = 4; // EINTR

    /// <summary>True where <see cref="WaitReadable"/> works: Linux (poll, and Dispose unblocking a waiting poll).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// Blocks until <paramref name="socket"/> has bytes, a FIN, or an error to report (the next receive will not block).
    /// Disposing the socket meanwhile wakes it: the handle reference held here makes <see cref="Socket.Dispose()"/>
    /// disconnect the socket, which the kernel reports to poll, before it closes the descriptor.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The socket was disposed before the wait began.</exception>
    /// <exception cref="SocketException">poll failed.</exception>
    public static void WaitReadable(Socket socket)
    {
        var handle = socket.SafeHandle;
        var referenced = false;
        try
        {
            handle.DangerousAddRef(ref referenced);
            var descriptor = new PollDescriptor { Descriptor = (int)handle.DangerousGetHandle(), Events = PollIn | PollRdHup };
            while (Poll(ref descriptor, 1, -1) < 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error != Interrupted)
                {
                    throw new SocketException(error);
                }
            }
        }
        finally
        {
            if (referenced)
            {
                handle.DangerousRelease();
            }
        }
    }

    // LibraryImport would need unsafe code (not allowed in this repository); the struct is blittable, so DllImport
    // marshals it without a copy.
#pragma warning disable SYSLIB1054
    [DllImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static extern int Poll(ref PollDescriptor descriptors, nuint count, int timeoutMilliseconds);
#pragma warning restore SYSLIB1054

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }
}
