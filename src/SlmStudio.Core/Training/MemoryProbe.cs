using System.Runtime.InteropServices;
using TorchSharp;

namespace SlmStudio.Core.Training;

/// <summary>
/// Where a training process's memory is, at one moment: resident memory as the system counts it, and the parts we
/// can name: TorchSharp tensor handles still alive on this thread, the .NET heap, and (on Linux with glibc) memory
/// the C allocator holds for libtorch, in use and freed-but-kept. Used by <c>slm bench train --memory</c> and by the
/// test that keeps training memory flat; the parts tell which one grows when resident memory does.
/// </summary>
public sealed record MemorySnapshot(long ResidentBytes, long LiveTensors, long ManagedBytes, long NativeInUseBytes, long NativeFreeHeldBytes)
{
    public static MemorySnapshot Take()
    {
        var native = NativeHeap.Read();
        return new MemorySnapshot(CurrentResidentBytes(), DisposeScopeManager.Statistics.ThreadTotalLiveCount,
            GC.GetGCMemoryInfo().TotalCommittedBytes, native?.InUse ?? -1, native?.FreeHeld ?? -1);
    }

    /// <summary>Resident set size of this process (VmRSS on Linux), read fresh every call.</summary>
    public static long CurrentResidentBytes()
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                foreach (var line in File.ReadLines("/proc/self/status"))
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                        return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
            catch (IOException) { }
        }
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.WorkingSet64;
    }
}

/// <summary>
/// glibc's allocator, which libtorch allocates every CPU tensor from. By default glibc raises its mmap threshold each
/// time a large block is freed (up to 32 MB), so after the first steps the activations of a training step (a few MB
/// each) come from its heaps instead of fresh mappings; freed there, they stay resident, fragmented between blocks
/// still in use, and each thread that allocates gets its own heap. Resident memory then creeps up over a long run
/// although the live tensors do not. <see cref="KeepReturningFreedMemory"/> fixes the threshold (so that the largest
/// tensors are mapped and unmapped, given back to the system on free) and allows two heaps, and
/// <see cref="GiveBackFreedMemory"/> returns what the heaps hold free after each evaluation. Both do nothing where glibc
/// is not the C library.
/// </summary>
public static class NativeHeap
{
    /// <summary>
    /// Blocks from this size up are mapped on their own and returned to the system when freed: glibc's largest
    /// threshold, fixed there. A lower one (256 KB until this was measured) kept resident memory lowest but mapped every
    /// activation afresh each step, and the page faults cost most of a step: a 60-step tiny run (batch 16, 2,048 tokens)
    /// trained 2,196 tokens/s with 256 KB (88 s of its 229 s in the kernel), 6,227 with 4 MB, 7,242 with 32 MB and 7,068
    /// with glibc's own dynamic threshold (2-core AMD EPYC VM). What still creeps is handed back after evaluations.
    /// </summary>
    public const int MmapThresholdBytes = 32 * 1024 * 1024;
    private const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3, M_ARENA_MAX = -8;
    private static int _configured;

    /// <summary>
    /// Set to 1, glibc keeps its own settings and nothing is given back after evaluations: to measure what these
    /// settings save (<c>slm bench train --memory</c> with and without it).
    /// </summary>
    public const string DefaultsVariable = "SLM_MALLOC_DEFAULTS";

    private static bool Off => !OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(DefaultsVariable) == "1";

    /// <summary>Once per process, before training allocates: see the class summary. Returns false where it could not apply.</summary>
    public static bool KeepReturningFreedMemory()
    {
        if (Off) return false;
        if (Interlocked.Exchange(ref _configured, 1) == 1) return true;
        try
        {
            // Setting any of these switches glibc's dynamic threshold off for good.
            return mallopt(M_MMAP_THRESHOLD, MmapThresholdBytes) == 1
                   & mallopt(M_TRIM_THRESHOLD, MmapThresholdBytes) == 1
                   // Training runs on one thread; the extra heaps of thread pools only hold freed memory.
                   & mallopt(M_ARENA_MAX, 2) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>Returns the free pages the C heaps hold to the system (glibc's malloc_trim); cheap next to an evaluation.</summary>
    public static void GiveBackFreedMemory()
    {
        if (Off) return;
        try { malloc_trim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    /// <summary>Bytes the C allocator has handed out and bytes it holds free (glibc's mallinfo2); null elsewhere.</summary>
    public static (long InUse, long FreeHeld)? Read()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var info = mallinfo2();
            return ((long)(info.uordblks + info.hblkhd), (long)info.fordblks);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 mallinfo2();

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}
