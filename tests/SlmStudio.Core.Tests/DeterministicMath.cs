using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlmStudio.Core.Tests;

/// <summary>
/// libtorch's CPU maths (Intel MKL) picks fewer threads than it was given when the machine is busy (MKL_DYNAMIC is on
/// by default), and a sum split over fewer threads adds in another order. The tests that resume a run and compare its
/// losses with an uninterrupted one then differ by a few thousandths (LoraTrainingTests saw 5.8119 against 5.8142)
/// while this suite's own test classes run side by side. Turned off for this test process before any tensor exists.
/// </summary>
internal static class DeterministicMath
{
    [ModuleInitializer]
    internal static void FixMklThreadCount()
    {
        // .NET keeps its own copy of the environment on Linux; MKL reads the C library's.
        if (OperatingSystem.IsLinux()) setenv("MKL_DYNAMIC", "FALSE", 1);
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);
}
