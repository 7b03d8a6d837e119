using System.Runtime.InteropServices;
using SlmStudio.Core.Training;

namespace SlmStudio.Core.Tests.Training;

/// <summary>Issue #15: resident memory of a training run stays flat after warm-up.</summary>
public class TrainingMemoryTests
{
    [Fact]
    public void MemoryStaysFlatAfterWarmUpThroughStepsEvaluationsAndCheckpoints()
    {
        var dir = TestPaths.NewTempDir();
        var data = TrainingFixture.WriteCorpus(dir);
        // An evaluation, samples and a checkpoint every 25 steps: what a long run does a hundred times, here ten times.
        var options = TrainingFixture.Options(data, Path.Combine(dir, "run"), maxSteps: 250, evalEvery: 25) with { LogEvery = 5 };
        var watch = new TrainingMemoryWatch();
        var finished = new Trainer(options, watch).Run(resume: false, CancellationToken.None);

        Assert.Equal(250, finished.Step);
        Assert.NotNull(watch.WarmedUp);
        Assert.True(watch.AfterWarmUp.Count >= 40, $"only {watch.AfterWarmUp.Count} snapshots after warm-up");
        // Exact: every tensor a step, an evaluation or a checkpoint makes is freed again; one that escaped its dispose
        // scope would show here at once, long before its memory shows in the process's size.
        Assert.True(watch.LiveTensorGrowth == 0,
            $"live tensors rose from {watch.WarmedUp!.LiveTensors} after warm-up by {watch.LiveTensorGrowth} (step: count {string.Join(", ", watch.AfterWarmUp.Select(s => $"{s.Step}: {s.Memory.LiveTensors}"))})");
        // Resident memory is not asserted here: test classes run side by side in this process, so its size moves with
        // their allocations (CI saw +417 MB from neighbours). `slm bench train --memory` measures it in a process of
        // its own.
        Assert.True(finished.TrainingTokensPerSecond > 0);
    }

    [Fact]
    public void NativeHeapSettingsApplyOnLinux()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.True(NativeHeap.KeepReturningFreedMemory());
        Assert.NotNull(NativeHeap.Read());
        // Activations below the threshold come from the heap, where a step's freed blocks are reused by the next step
        // (mapping each afresh cost two thirds of a tiny run's time in page faults); the largest blocks are mapped on
        // their own and go back to the system when freed. Asked of the blocks themselves (glibc's IS_MMAPPED bit). A
        // 4 MB block could be mapped only if the heap could not grow; 8 held at once leave room for one such.
        const int blocks = 8;
        var small = new IntPtr[blocks];
        var large = IntPtr.Zero;
        try
        {
            for (int i = 0; i < blocks; i++) small[i] = Marshal.AllocHGlobal(4 << 20);
            Assert.True(small.Count(IsMappedOnItsOwn) <= 1, $"{small.Count(IsMappedOnItsOwn)} of {blocks} blocks of 4 MB were mapped on their own instead of coming from the heap");
            // glibc maps a block on its own only when no free chunk of the heaps can hold it, and test classes running
            // beside this one in the process can leave that much free (a CI run saw it): then the check says nothing.
            var request = NativeHeap.MmapThresholdBytes + (1 << 20);
            var freeInHeaps = NativeHeap.Read()!.Value.FreeHeld;
            large = Marshal.AllocHGlobal(request);
            Assert.True(IsMappedOnItsOwn(large) || freeInHeaps >= request,
                $"a block above the threshold came from the heap, although the heaps held only {freeInHeaps:N0} bytes free");
        }
        finally
        {
            foreach (var block in small.Where(b => b != IntPtr.Zero)) Marshal.FreeHGlobal(block);
            if (large != IntPtr.Zero) Marshal.FreeHGlobal(large);
        }
    }

    /// <summary>glibc keeps a chunk's size in the word before it; bit 1 (IS_MMAPPED) marks a chunk mapped on its own.</summary>
    private static bool IsMappedOnItsOwn(IntPtr block) => (Marshal.ReadIntPtr(block, -IntPtr.Size) & 0x2) != 0;
}
