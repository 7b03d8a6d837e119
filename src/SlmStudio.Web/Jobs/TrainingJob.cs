using SlmStudio.Core.Training;
using System.Globalization;
using System.Text.Json;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Jobs;

/// <summary>
/// Trains one run in a child <c>slm train</c> process. Thin: run id in, engine call, progress and result out.
/// No automatic retries: a failed hour-long run is not silently restarted; resume is explicit.
/// </summary>
public sealed class TrainingJob(
    IDbContextFactory<StudioDbContext> dbFactory,
    StudioPaths paths,
    RunLeases leases,
    RunNotifier notifier,
    TrainingData trainingData,
    IOptions<StudioOptions> options,
    TimeProvider clock,
    ILogger<TrainingJob> logger)
{
    /// <summary>How long the trainer gets to write a checkpoint after being asked to stop, before it is killed.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);

    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    [Queue("training")]
    public async Task RunAsync(int runId, CancellationToken cancellationToken)
    {
        if (!await leases.TryAcquireAsync(runId, cancellationToken))
        {
            logger.LogInformation("Run {RunId} is finished or held by another worker; not starting it again", runId);
            return;
        }
        try
        {
            await TrainAsync(runId, cancellationToken);
        }
        finally
        {
            await leases.ReleaseAsync(runId);
        }
    }

    private async Task TrainAsync(int runId, CancellationToken shutdown)
    {
        TrainingRun run;
        await using (var db = await dbFactory.CreateDbContextAsync(CancellationToken.None))
        {
            run = await db.Runs.Include(r => r.Project).SingleAsync(r => r.Id == runId, CancellationToken.None);
            run.Status = RunStatus.Running;
            run.StartedAt ??= clock.GetUtcNow();
            run.Attempts++;
            run.Error = null;
            await db.SaveChangesAsync(CancellationToken.None);
        }
        notifier.Publish(new RunUpdate(runId, null, RunStatus.Running));

        var runDir = paths.Run(runId);
        Directory.CreateDirectory(runDir);
        var folder = RunFolder.At(runDir);
        if (File.Exists(folder.CancelFile)) File.Delete(folder.CancelFile);
        var resume = folder.HasCheckpoint;

        string dataPath;
        try
        {
            // Runs from before dataset versions resume on the copy of the files they made then.
            var legacyInput = folder.LegacyInputDirectory;
            dataPath = resume && run.DatasetVersionId is null && Directory.Exists(legacyInput)
                ? legacyInput
                : await trainingData.PrepareAsync(run, runDir, CancellationToken.None);
        }
        catch (UserFacingException e)
        {
            await FinishAsync(runId, RunStatus.Failed, e.Message);
            return;
        }

        // The dataset version may have been frozen just now: open pages reload the run to show it.
        notifier.Publish(new RunUpdate(runId, null, RunStatus.Running));
        var args = BuildArguments(run, dataPath, runDir, resume, await BaseModelFolderAsync(run));
        logger.LogInformation("Run {RunId} starts slm {Arguments}", runId, string.Join(' ', args));

        using var kill = new CancellationTokenSource();
        using var heartbeatStop = new CancellationTokenSource();
        var stopReason = RunStatus.Cancelled;
        var leaseLost = false;
        void AskToStop(RunStatus reason)
        {
            stopReason = reason;
            try { File.WriteAllText(folder.CancelFile, reason.ToString()); } catch (IOException) { }
            kill.CancelAfter(StopGrace);
        }
        await using var onShutdown = shutdown.Register(() => AskToStop(RunStatus.Interrupted));
        var heartbeat = HeartbeatAsync(runId, () => AskToStop(RunStatus.Cancelled), () => { leaseLost = true; AskToStop(RunStatus.Interrupted); }, heartbeatStop.Token);

        TrainingFinished? finished = null;
        TrainingError? error = null;
        var writer = new ProgressWriter(dbFactory, notifier, clock, runId);
        SlmProcessResult result;
        try
        {
            result = await SlmProcess.RunAsync(paths.Slm, args, async line =>
            {
                var e = TrainingEvent.Parse(line);
                if (e is null) return;
                if (e is TrainingFinished f) finished = f;
                if (e is TrainingError err) error = err;
                await writer.WriteAsync(e, line.Trim());
            }, kill.Token);
        }
        catch (Exception e) when (e is FileNotFoundException or System.ComponentModel.Win32Exception)
        {
            await heartbeatStop.CancelAsync();
            await heartbeat;
            logger.LogError(e, "Run {RunId} could not start the training process", runId);
            await FinishAsync(runId, RunStatus.Failed, "The training engine could not be started on this server. Ask your administrator to check the installation.");
            return;
        }
        await heartbeatStop.CancelAsync();
        await heartbeat;
        await writer.FlushAsync();

        if (leaseLost)
        {
            // Another worker owns the run now; its status is not ours to write.
            logger.LogWarning("Run {RunId}: this copy stopped after losing its lease", runId);
            return;
        }
        if (finished is { Cancelled: true })
        {
            // Shutdown: leave it for the start-up sweep to resume. User cancel: stays cancelled, can be resumed.
            await FinishAsync(runId, stopReason, null);
        }
        else if (finished is not null && result.ExitCode == 0)
        {
            await FinishAsync(runId, RunStatus.Trained, null, finished);
        }
        else if (shutdown.IsCancellationRequested || stopReason == RunStatus.Interrupted && kill.IsCancellationRequested)
        {
            await FinishAsync(runId, RunStatus.Interrupted, null);
        }
        else
        {
            var message = error?.Message ?? (result.ExitCode is 137 or -9 or 134 or 139
                ? "The training process was stopped by the system, most likely because it ran out of memory. Try a smaller model size or a shorter time budget."
                : $"The training process stopped unexpectedly (exit code {result.ExitCode}). Try again; if it keeps failing, try a smaller model size.");
            logger.LogWarning("Run {RunId} failed with exit code {ExitCode}: {Message}; stderr: {Stderr}", runId, result.ExitCode, message, result.StandardErrorTail);
            await FinishAsync(runId, RunStatus.Failed, message);
        }
    }

    public static List<string> BuildArguments(TrainingRun run, string dataPath, string runDir, bool resume, string? baseModel)
    {
        var args = new List<string> { "train", "--data", dataPath, "--out", runDir };
        // A base model fixes the size and the tokenizer.
        if (baseModel is null) args.AddRange(["--preset", run.Preset]);
        if (run.MaxStepsSetting is { } steps) args.AddRange(["--max-steps", steps.ToString(CultureInfo.InvariantCulture)]);
        else args.AddRange(["--minutes", (run.Minutes ?? 5).ToString(CultureInfo.InvariantCulture)]);
        if (run.VocabSize > 0 && baseModel is null) args.AddRange(["--vocab-size", run.VocabSize.ToString(CultureInfo.InvariantCulture)]);
        args.AddRange(["--seed", run.Seed.ToString(CultureInfo.InvariantCulture)]);
        if (run.EvalEvery is { } every)
        {
            args.AddRange(["--eval-every", every.ToString(CultureInfo.InvariantCulture)]);
            // Short runs report every step or two so the curves have points to draw.
            if (every < 20) args.AddRange(["--log-every", Math.Max(1, every / 4).ToString(CultureInfo.InvariantCulture)]);
        }
        if (baseModel is not null) args.AddRange(["--base", baseModel]);
        if (resume) args.Add("--resume");
        return args;
    }

    private async Task<string?> BaseModelFolderAsync(TrainingRun run)
    {
        if (run.BaseVersionId is not { } id) return null;
        await using var db = await dbFactory.CreateDbContextAsync();
        var version = await db.ModelVersions.SingleOrDefaultAsync(v => v.Id == id);
        if (version is null) return null;
        // The run that made the version keeps its trainable HF folder (config.json, model.safetensors, tokenizer.json).
        return Path.Combine(paths.Run(version.RunId), "model");
    }

    private async Task HeartbeatAsync(int runId, Action onCancelRequested, Action onLeaseLost, CancellationToken stop)
    {
        var period = TimeSpan.FromSeconds(options.Value.HeartbeatSeconds);
        var asked = false;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(period, clock, stop);
                if (!await leases.RenewAsync(runId, stop))
                {
                    logger.LogError("Run {RunId} lost its lease; stopping this copy so it never runs twice", runId);
                    onLeaseLost();
                    return;
                }
                if (asked) continue;
                await using var db = await dbFactory.CreateDbContextAsync(stop);
                if (await db.Runs.AnyAsync(r => r.Id == runId && r.CancelRequested, stop))
                {
                    asked = true;
                    onCancelRequested();
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task FinishAsync(int runId, RunStatus status, string? error, TrainingFinished? finished = null)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var run = await db.Runs.SingleAsync(r => r.Id == runId);
        run.Status = status;
        run.Error = error;
        run.CancelRequested = false;
        if (status is RunStatus.Failed or RunStatus.Cancelled or RunStatus.Trained) run.FinishedAt = clock.GetUtcNow();
        if (finished is not null)
        {
            run.ValLoss = finished.BestValLoss;
            run.Perplexity = finished.Perplexity;
            run.BitsPerChar = finished.BitsPerChar;
            run.Step = finished.Step;
            run.EtaSeconds = 0;
        }
        await db.SaveChangesAsync();
        logger.LogInformation("Run {RunId} is now {Status}", runId, status);
        notifier.Publish(new RunUpdate(runId, null, status));
    }

    /// <summary>Stores every event and the latest figures; step events are batched so the database keeps up.</summary>
    private sealed class ProgressWriter(IDbContextFactory<StudioDbContext> dbFactory, RunNotifier notifier, TimeProvider clock, int runId)
    {
        private readonly List<(TrainingEvent Event, string Json)> _pending = [];
        private DateTimeOffset _lastFlush = DateTimeOffset.MinValue;

        public async Task WriteAsync(TrainingEvent e, string json)
        {
            _pending.Add((e, json));
            notifier.Publish(new RunUpdate(runId, e));
            if (e is not TrainingStep || clock.GetUtcNow() - _lastFlush > TimeSpan.FromSeconds(1)) await FlushAsync();
        }

        public async Task FlushAsync()
        {
            if (_pending.Count == 0) return;
            _lastFlush = clock.GetUtcNow();
            await using var db = await dbFactory.CreateDbContextAsync();
            var run = await db.Runs.SingleAsync(r => r.Id == runId);
            foreach (var (e, json) in _pending)
            {
                db.RunEvents.Add(new RunEvent { RunId = runId, Kind = e.Kind, Json = json, At = _lastFlush });
                run.Apply(e);
            }
            _pending.Clear();
            await db.SaveChangesAsync();
        }

    }
}

/// <summary>A problem to show the user as it is (plain English, no stack trace).</summary>
public sealed class UserFacingException(string message) : Exception(message);
