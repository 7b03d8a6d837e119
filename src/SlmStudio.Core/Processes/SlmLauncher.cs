using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SlmStudio.Core.Processes;

/// <summary>
/// Starts the engine (<c>dotnet slm.dll ...</c>) as a child process, so that a native crash, a hang or running out of
/// memory ends that process and never the portal or <c>slm prepare</c>. The one place that knows the engine's command
/// lines (flags of <c>extract</c>, <c>train</c>, <c>export</c>, <c>bench train</c>), what its exit codes mean, how to
/// find the dotnet host, how to limit time and memory, and that the whole process tree is killed on cancellation or on
/// any exception of the caller.
/// </summary>
/// <remarks>Depends on nothing else in Core, so that every folder (data, training, export) may use it.</remarks>
public sealed class SlmLauncher(string slmDllPath, string? dotnetHost = null)
{
    /// <summary>The command did what it was asked.</summary>
    public const int SuccessExitCode = 0;
    /// <summary>The engine explained a problem on standard error as "error: ..." (for export also: parity failed).</summary>
    public const int ErrorExitCode = 1;
    /// <summary>Wrong arguments: a bug in the caller, since the launcher builds every command line.</summary>
    public const int UsageExitCode = 2;
    /// <summary><c>slm extract</c> ran out of the memory it was given.</summary>
    public const int OutOfMemoryExitCode = 3;
    /// <summary><c>slm train</c> refused to start: another trainer holds the run folder (see RunFolder.LockForTrainer).</summary>
    public const int RunFolderBusyExitCode = 4;
    /// <summary>The engine stopped because it was asked to (Ctrl+C or SIGTERM).</summary>
    public const int CancelledExitCode = 130;
    /// <summary>
    /// Makes <c>slm train</c> stop (after a checkpoint), and <c>slm export</c> stop without an artifact, once its standard input closes. The launcher keeps that pipe open
    /// and never writes to it; the operating system closes it when the launching process ends in any way, kill -9
    /// included, so an orphaned trainer notices at once. (A parent process id would need polling and can be reused.)
    /// </summary>
    public const string StopWithParentOption = "--stop-with-parent";

    /// <summary>Room over the managed-heap limit for the runtime's own native memory before the watchdog kills.</summary>
    private const long NativeHeadroomBytes = 128L * 1024 * 1024;
    private const int StandardErrorTailChars = 8000;

    public string SlmDllPath { get; } = Path.GetFullPath(slmDllPath);
    public string DotnetHost { get; } = dotnetHost ?? FindDotnetHost();

    /// <summary>Uses the slm.dll beside the running application (the CLI, test and web outputs all carry it).</summary>
    public static SlmLauncher ForCurrentInstall()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "slm.dll");
        if (!File.Exists(path)) throw new EngineException($"slm.dll was not found in {AppContext.BaseDirectory}; the engine cannot run as a separate process.");
        return new SlmLauncher(path);
    }

    /// <summary>The dotnet host running this process when there is one, else the installation's; "dotnet" on PATH last.</summary>
    public static string FindDotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        foreach (var variable in new[] { "DOTNET_ROOT", "DOTNET_ROOT_X64" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } root && File.Exists(Path.Combine(root, "dotnet"))) return Path.Combine(root, "dotnet");
        var runtimeRoot = Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var candidate = Path.Combine(runtimeRoot, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(candidate) ? candidate : "dotnet";
    }

    /// <summary>
    /// <c>slm extract</c>: reads one file into <paramref name="resultFile"/> (written atomically as the child's last
    /// act). The caller reads the result; <see cref="EngineExit.RanOutOfMemory"/> and <see cref="EngineExit.OverTime"/>
    /// say why there is none. Throws <see cref="OperationCanceledException"/> when <paramref name="ct"/> fired.
    /// </summary>
    public async Task<EngineExit> ExtractAsync(ExtractArguments request, string resultFile, CancellationToken ct)
    {
        var args = new List<string>
        {
            "extract", Path.GetFullPath(request.StoredPath),
            // Arguments cannot carry NUL; the child needs the name only for its extension and messages.
            "--name", request.OriginalName.Replace('\0', '\uFFFD'),
            "--out", resultFile,
        };
        if (request.Mapping is { } mapping) args.AddRange(["--mapping", mapping]);
        args.AddRange(["--max-bytes", Invariant(request.MaxFileBytes), "--max-uncompressed-bytes", Invariant(request.MaxUncompressedBytes)]);
        var exit = await RunAsync(args, new EngineLimits(request.Timeout, request.MemoryBytes), onLine: null, ct).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return exit;
    }

    /// <summary>The <c>slm train</c> command line for these settings (flags left out take the engine's defaults).</summary>
    public static IReadOnlyList<string> TrainCommandLine(TrainArguments request)
    {
        var args = new List<string> { "train", "--data", request.DataPath, "--out", request.RunDirectory };
        if (request.Preset is { } preset) args.AddRange(["--preset", preset]);
        if (request.MaxSteps is { } steps) args.AddRange(["--max-steps", Invariant(steps)]);
        else if (request.Minutes is { } minutes) args.AddRange(["--minutes", Invariant(minutes)]);
        if (request.VocabSize is { } vocab) args.AddRange(["--vocab-size", Invariant(vocab)]);
        if (request.Seed is { } seed) args.AddRange(["--seed", Invariant(seed)]);
        if (request.EvalEvery is { } every) args.AddRange(["--eval-every", Invariant(every)]);
        if (request.LogEvery is { } log) args.AddRange(["--log-every", Invariant(log)]);
        if (request.Task is { } task) args.AddRange(["--task", task]);
        if (request.TextColumn is { } textColumn) args.AddRange(["--text-column", textColumn]);
        if (request.LabelColumn is { } labelColumn) args.AddRange(["--label-column", labelColumn]);
        if (request.QuestionColumn is { } questionColumn) args.AddRange(["--question-column", questionColumn]);
        if (request.AnswerColumn is { } answerColumn) args.AddRange(["--answer-column", answerColumn]);
        if (request.SystemColumn is { } systemColumn) args.AddRange(["--system-column", systemColumn]);
        if (request.BaseModel is { } baseModel) args.AddRange(["--base", baseModel]);
        if (request.Library is { } library) args.AddRange(["--library", library]);
        if (request.Lora) args.Add("--lora");
        if (request.Resume) args.Add("--resume");
        // One token each ("--sample-prompt=text"), so that a prompt starting with a dash is never read as an option.
        foreach (var prompt in request.SamplePrompts ?? []) args.Add("--sample-prompt=" + prompt.Replace('\0', '\uFFFD'));
        return args;
    }

    /// <summary>
    /// <c>slm train</c>: each line the trainer prints (its JSON events) goes to <paramref name="onLine"/> as it comes.
    /// <paramref name="kill"/> ends the process at once; asking the trainer to stop politely is the run folder's
    /// CANCEL file, which the caller writes before killing. Never throws for cancellation: the exit says it was killed.
    /// </summary>
    /// <param name="onStarted">Receives the trainer's process id once it runs (for logs and tests).</param>
    public Task<EngineExit> TrainAsync(TrainArguments request, Func<string, Task> onLine, CancellationToken kill, Action<int>? onStarted = null) =>
        RunAsync([.. TrainCommandLine(request), StopWithParentOption], EngineLimits.None, onLine, kill, keepStandardInputOpen: true, onStarted);

    /// <summary>
    /// <c>slm export &lt;source&gt; --out &lt;artifact folder&gt;</c>: progress lines go to <paramref name="onLine"/>.
    /// Throws <see cref="OperationCanceledException"/> when <paramref name="ct"/> fired.
    /// </summary>
    /// <param name="precision">fp32, int8 or int4 (<c>slm export --precision</c>); null keeps the exporter's default (fp32).</param>
    public async Task<ExportExit> ExportAsync(string source, string artifactDirectory, Action<string>? onLine, CancellationToken ct, string? precision = null)
    {
        // slm export prints its "parity:" summary only once the exported model was compared with the trained one,
        // and then exits 1 only when the two disagree; an error before that comes without the summary.
        var compared = false;
        string[] arguments = precision is null
            ? ["export", source, "--out", artifactDirectory, StopWithParentOption]
            : ["export", source, "--out", artifactDirectory, "--precision", precision, StopWithParentOption];
        var exit = await RunAsync(arguments, EngineLimits.None, line =>
        {
            if (line.StartsWith("parity:", StringComparison.Ordinal)) compared = true;
            onLine?.Invoke(line);
            return Task.CompletedTask;
        }, ct, keepStandardInputOpen: true).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return new ExportExit(exit, ParityFailed: compared && exit.ExitCode == ErrorExitCode);
    }

    /// <summary><c>slm bench train --json</c> for one preset; the JSON report is the line that starts with '{'.</summary>
    public Task<EngineExit> BenchTrainAsync(string preset, int vocabSize, int steps, Func<string, Task> onLine, CancellationToken ct) =>
        RunAsync(["bench", "train", "--presets", preset, "--json", "--vocab-size", Invariant(vocabSize), "--steps", Invariant(steps)],
            EngineLimits.None, onLine, ct);

    private async Task<EngineExit> RunAsync(IReadOnlyList<string> arguments, EngineLimits limits, Func<string, Task>? onLine, CancellationToken kill,
        bool keepStandardInputOpen = false, Action<int>? onStarted = null)
    {
        if (!File.Exists(SlmDllPath))
            throw new FileNotFoundException($"The engine (slm.dll) was not found at {SlmDllPath}. Rebuild or reinstall SLM Studio.", SlmDllPath);

        var psi = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A pipe the child watches: it ends when this process ends (see StopWithParentOption).
            RedirectStandardInput = keepStandardInputOpen,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = Path.GetDirectoryName(SlmDllPath)!,
        };
        psi.ArgumentList.Add(SlmDllPath);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (limits.MemoryBytes is { } memory)
        {
            // The GC heap limit makes the runtime throw OutOfMemoryException inside the child; the watchdog below also
            // catches native memory the GC does not see.
            psi.Environment["DOTNET_GCHeapHardLimit"] = "0x" + Math.Max(32L * 1024 * 1024, memory).ToString("X", CultureInfo.InvariantCulture);
            psi.Environment["DOTNET_gcServer"] = "0";
            psi.Environment["DOTNET_TieredPGO"] = "0";
        }

        using var process = new Process { StartInfo = psi };
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
                if (stderr.Length > StandardErrorTailChars) stderr.Remove(0, stderr.Length - StandardErrorTailChars);
            }
        };
        var ending = new Ending();
        try
        {
            process.Start();
            onStarted?.Invoke(process.Id);
            process.BeginErrorReadLine();
            using var timeout = limits.WallClock is { } wallClock ? new CancellationTokenSource(wallClock) : new CancellationTokenSource();
            await using var onTimeout = timeout.Token.Register(() => ending.Stop(process, EndReason.OverTime));
            await using var onKill = kill.Register(() => ending.Stop(process, EndReason.Killed));
            using var watchdogStop = new CancellationTokenSource();
            var watchdog = limits.MemoryBytes is { } limit
                ? WatchMemoryAsync(process, limit + NativeHeadroomBytes, ending, watchdogStop.Token)
                : Task.CompletedTask;

            while (await process.StandardOutput.ReadLineAsync(CancellationToken.None).ConfigureAwait(false) is { } line)
                if (onLine is not null) await onLine(line).ConfigureAwait(false);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            await watchdogStop.CancelAsync().ConfigureAwait(false);
            await watchdog.ConfigureAwait(false);
        }
        finally
        {
            // Whatever happened to the caller (an exception in onLine, cancellation), no engine process outlives it.
            Kill(process);
        }
        string tail;
        lock (stderr) tail = stderr.ToString().Trim();
        return new EngineExit(process.ExitCode, tail, ending.Reason);
    }

    private static async Task WatchMemoryAsync(Process process, long limitBytes, Ending ending, CancellationToken stop)
    {
        // Polling is the only portable way to see a child's working set; the period only bounds how far it overshoots.
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                process.Refresh();
                if (process.HasExited) return;
                if (process.WorkingSet64 > limitBytes) { ending.Stop(process, EndReason.OverMemory); return; }
            }
        }
        catch (OperationCanceledException) { }
        catch (InvalidOperationException) { } // the process ended between the checks
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                // Only a process that is gone has released its run folder's lock: the caller may start the next one.
                process.WaitForExit(TimeSpan.FromSeconds(30));
            }
        }
        catch (InvalidOperationException) { } // never started or already gone
        catch (System.ComponentModel.Win32Exception) { } // exiting while being killed
    }

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
    private static string Invariant(double value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Remembers the first reason the launcher itself ended the process (timer, watchdog and caller race).</summary>
    private sealed class Ending
    {
        private int _reason = (int)EndReason.None;
        public EndReason Reason => (EndReason)Volatile.Read(ref _reason);

        public void Stop(Process process, EndReason reason)
        {
            Interlocked.CompareExchange(ref _reason, (int)reason, (int)EndReason.None);
            Kill(process);
        }
    }
}

/// <summary>Why the launcher ended a child process itself; None when the engine exited on its own.</summary>
public enum EndReason { None, Killed, OverTime, OverMemory }

/// <summary>A wall-clock and a memory limit for one child process; null means none.</summary>
public sealed record EngineLimits(TimeSpan? WallClock, long? MemoryBytes)
{
    public static readonly EngineLimits None = new(null, null);
}

/// <summary>How one engine child process ended.</summary>
public sealed record EngineExit(int ExitCode, string StandardErrorTail, EndReason EndedBy)
{
    public bool Succeeded => ExitCode == SlmLauncher.SuccessExitCode && EndedBy == EndReason.None;
    public bool Killed => EndedBy == EndReason.Killed;
    public bool OverTime => EndedBy == EndReason.OverTime;

    /// <summary>The memory limit was hit: the watchdog fired, the engine said so, or the runtime died of it.</summary>
    public bool RanOutOfMemory => EndedBy == EndReason.OverMemory || ExitCode == SlmLauncher.OutOfMemoryExitCode
        || StandardErrorTail.Contains("OutOfMemory", StringComparison.Ordinal);

    /// <summary>The operating system ended the process (out-of-memory killer, abort, native crash), not the engine.</summary>
    public bool EndedBySystem => EndedBy == EndReason.None && Signal is not null;

    /// <summary>
    /// The signal that ended the process when a signal did: .NET reports 128 + n on Linux and macOS (some hosts give
    /// -n). 130 (Ctrl+C) is left out: the engine exits with it itself when asked to stop.
    /// </summary>
    public int? Signal => ExitCode switch
    {
        > 128 and < 160 when ExitCode != SlmLauncher.CancelledExitCode => ExitCode - 128,
        < 0 and > -32 => -ExitCode,
        _ => null,
    };

    /// <summary>The conventional name of <see cref="Signal"/> (SIGKILL, SIGABRT, ...).</summary>
    public string? SignalName => Signal switch
    {
        null => null,
        4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", 9 => "SIGKILL", 11 => "SIGSEGV", 15 => "SIGTERM",
        var n => $"signal {n}",
    };

    /// <summary>Killed by SIGKILL or SIGTERM from outside (the out-of-memory killer, an administrator, a service manager), not a crash.</summary>
    public bool KilledFromOutside => EndedBy == EndReason.None && Signal is 9 or 15;

    /// <summary>
    /// The line of standard error that says what went wrong: the runtime's "Unhandled exception" line or the engine's
    /// "error:" line when there is one, else the first line it printed; null when it printed nothing.
    /// </summary>
    public string? FirstErrorLine
    {
        get
        {
            var lines = StandardErrorTail.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var line = lines.FirstOrDefault(l => l.StartsWith("Unhandled exception", StringComparison.OrdinalIgnoreCase)
                    || l.StartsWith("error:", StringComparison.OrdinalIgnoreCase) || l.StartsWith("Fatal error", StringComparison.OrdinalIgnoreCase))
                ?? lines.FirstOrDefault();
            return line is { Length: > 300 } ? line[..300] + "…" : line;
        }
    }

    /// <summary>
    /// What happened to the process, in plain words, for <paramref name="what"/> ("The training process"): the signal
    /// and what usually sends it, or the exit code, followed by the first error line it printed.
    /// </summary>
    public string Describe(string what)
    {
        var happened = EndedBy switch
        {
            EndReason.Killed => $"{what} was stopped by SLM Studio, as it was asked to.",
            EndReason.OverTime => $"{what} took longer than its time limit and was stopped.",
            EndReason.OverMemory => $"{what} used more memory than its limit and was stopped.",
            _ => null,
        } ?? Signal switch
        {
            9 => $"{what} was killed from outside (SIGKILL). The operating system does this when the server runs out of memory; an administrator or a service manager can do it too.",
            15 => $"{what} was stopped from outside (SIGTERM), by an administrator or a service manager.",
            6 => $"{what} crashed: it aborted (SIGABRT).",
            11 or 7 => $"{what} crashed in native code ({SignalName}).",
            not null => $"{what} was ended by {SignalName}.",
            null when RanOutOfMemory => $"{what} ran out of memory.",
            null => $"{what} stopped unexpectedly (exit code {ExitCode}).",
        };
        return FirstErrorLine is { } line ? $"{happened} Its last error message was: \"{line}\"" : happened;
    }

    /// <summary>The engine's own plain-English explanation (the text after "error: " on standard error), if it gave one.</summary>
    public string? ErrorMessage
    {
        get
        {
            const string prefix = "error: ";
            var at = StandardErrorTail.LastIndexOf(prefix, StringComparison.Ordinal);
            return at < 0 || (at > 0 && StandardErrorTail[at - 1] != '\n') ? null : StandardErrorTail[(at + prefix.Length)..].Trim();
        }
    }
}

/// <summary>How <c>slm export</c> ended; <see cref="ParityFailed"/> when the exported model disagreed with the trained one.</summary>
public sealed record ExportExit(EngineExit Exit, bool ParityFailed)
{
    public bool Succeeded => Exit.Succeeded;
}

/// <summary>What <c>slm extract</c> reads, and the limits it runs under.</summary>
public sealed record ExtractArguments(
    string StoredPath, string OriginalName, string? Mapping, long MaxFileBytes, long MaxUncompressedBytes, TimeSpan Timeout, long MemoryBytes);

/// <summary>What <c>slm train</c> is asked to do; a null setting leaves the engine's own default.</summary>
public sealed record TrainArguments(string DataPath, string RunDirectory)
{
    public string? Preset { get; init; }
    public int? MaxSteps { get; init; }
    public double? Minutes { get; init; }
    public int? VocabSize { get; init; }
    public int? Seed { get; init; }
    public int? EvalEvery { get; init; }
    public int? LogEvery { get; init; }
    public string? BaseModel { get; init; }
    /// <summary>The base model library that a <see cref="BaseModel"/> name is looked up in.</summary>
    public string? Library { get; init; }
    /// <summary>Fine-tune <see cref="BaseModel"/> with low-rank adapters instead of all its weights.</summary>
    public bool Lora { get; init; }
    /// <summary>"text" (the default when null), "classify" or "chat".</summary>
    public string? Task { get; init; }
    public string? TextColumn { get; init; }
    public string? LabelColumn { get; init; }
    /// <summary>--task chat: the columns of the question/answer pairs (and the optional system or context text).</summary>
    public string? QuestionColumn { get; init; }
    public string? AnswerColumn { get; init; }
    public string? SystemColumn { get; init; }
    public bool Resume { get; init; }
    /// <summary>Prompts the live samples during training continue (the project's goal tests); text runs only.</summary>
    public IReadOnlyList<string>? SamplePrompts { get; init; }
}
