using Hangfire;
using Microsoft.EntityFrameworkCore;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Processes;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;
using SlmStudio.Web.Services;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Jobs;

/// <summary>
/// Trains one run in a child <c>slm train</c> process. Thin: run id in, engine call, progress and result out.
/// Leases live in <see cref="RunLeases"/>, database writes in <see cref="RunProgressWriter"/>, the command line and
/// exit codes in <see cref="SlmLauncher"/>.
/// No automatic retries: a failed hour-long run is not silently restarted; resume is explicit.
/// </summary>
public sealed class TrainingJob(
    IDbContextFactory<StudioDbContext> dbFactory,
    StudioPaths paths,
    RunLeases leases,
    RunNotifier notifier,
    TrainingData trainingData,
    IArtifactStore artifacts,
    TimeProvider clock,
    ILogger<TrainingJob> logger)
{
    /// <summary>How long the trainer gets to write a checkpoint after being asked to stop, before it is killed.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(30);
    /// <summary>A run killed from outside (e.g. by the out-of-memory killer) is resumed by itself up to this many starts.</summary>
    public const int MaxAutomaticAttempts = 3;

    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    [TrainingQueue]
    public async Task RunAsync(int runId, CancellationToken cancellationToken)
    {
        using var logScope = JobLogScope.Begin(logger, runId);
        if (!await leases.TryAcquireAsync(runId, cancellationToken))
        {
            logger.LogInformation("Run {RunId} is finished or held by another worker; not starting it again", runId);
            return;
        }
        try
        {
            await TrainAsync(runId, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The trainer is already gone (the launcher kills it on any exception). Hand the run to the sweep, which
            // resumes it from its checkpoint, instead of leaving it "running" with nobody training it.
            logger.LogError(e, "The training job of run {RunId} failed; its trainer was stopped and the run is left for the sweep to resume", runId);
            await MarkInterruptedAsync(runId);
            throw;
        }
        finally
        {
            await leases.ReleaseAsync(runId);
        }
    }

    private async Task MarkInterruptedAsync(int runId)
    {
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            await db.Runs.Where(r => r.Id == runId && (r.Status == RunStatus.Running || r.Status == RunStatus.Queued))
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, RunStatus.Interrupted));
            notifier.Publish(new RunUpdate(runId, null, RunStatus.Interrupted));
        }
        catch (Exception e)
        {
            // The database may be what failed; then the run's lease runs out and the sweep finds it that way.
            logger.LogWarning(e, "Run {RunId} could not be marked interrupted", runId);
        }
    }

    private async Task TrainAsync(int runId, CancellationToken shutdown)
    {
        var runKey = SharedFolderArtifactStore.RunKey(runId);
        var folder = RunFolder.At(await artifacts.CheckOutAsync(ArtifactArea.Runs, runKey, shutdown));
        if (folder.IsTrainerRunning)
        {
            // A trainer of an earlier portal process (killed without a shutdown) still works on the folder. It stops by
            // itself after a checkpoint once it notices its portal is gone; a second one now would interleave with it.
            logger.LogWarning("Run {RunId}: a trainer process still works on {RunFolder}; leaving the run to it. The sweep resumes the run once it has stopped", runId, folder.Root);
            await MarkInterruptedAsync(runId);
            return;
        }
        var progress = new RunProgressWriter(dbFactory, notifier, clock, runId, logger);
        var run = await progress.StartAsync();
        Directory.CreateDirectory(folder.Root);
        if (File.Exists(folder.CancelFile)) File.Delete(folder.CancelFile);
        var classify = run.Task == TrainingTasks.Classify;
        var chat = run.Task == TrainingTasks.Chat;
        // Classification and chat runs cannot resume (the engine refuses a folder that holds a run): they start over.
        if ((classify || chat) && (File.Exists(folder.SettingsFile) || Core.Instruction.InstructionRunFolder.IsInstructionRun(folder.Root))) ClearForRestart(folder.Root);
        var resume = !classify && !chat && folder.HasCheckpoint;

        string dataPath;
        // Preparing the data (extraction, freezing a dataset version) can outlast the lease on a busy server: without
        // renewals the sweep would take the run for dead and fail it before its trainer ever started. A lost lease or
        // a cancel request is acted on by the trainer's own heartbeat below.
        using var preparing = new CancellationTokenSource();
        var preparationHeartbeat = leases.KeepAliveAsync(runId, () => { }, () => { }, preparing.Token);
        try
        {
            // Runs from before dataset versions resume on the copy of the files they made then.
            dataPath = resume && run.DatasetVersionId is null && Directory.Exists(folder.LegacyInputDirectory)
                ? folder.LegacyInputDirectory
                : await trainingData.PrepareAsync(run, folder.Root, CancellationToken.None);
        }
        catch (UserFacingException e)
        {
            await FinishAsync(progress, RunStatus.Failed, e.Message);
            return;
        }
        finally
        {
            await preparing.CancelAsync();
            await preparationHeartbeat;
        }
        // The dataset version may have been frozen just now: open pages reload the run to show it.
        progress.Reload();

        var request = EngineSettings(run, dataPath, folder.Root, resume, await BaseModelFolderAsync(run), paths.BaseModels) with { SamplePrompts = await GoalPromptsAsync(run) };
        logger.LogInformation("Run {RunId} starts slm {Arguments}", runId, string.Join(' ', SlmLauncher.TrainCommandLine(request)));

        using var stop = new TrainerStop(folder, StopGrace, logger);
        using var heartbeatStop = new CancellationTokenSource();
        var leaseLost = false;
        await using var onShutdown = shutdown.Register(() => stop.Ask(RunStatus.Interrupted));
        var heartbeat = leases.KeepAliveAsync(runId, () => stop.Ask(RunStatus.Cancelled), () =>
        {
            logger.LogError("Run {RunId} lost its lease; stopping this copy so it never runs twice", runId);
            leaseLost = true;
            stop.Ask(RunStatus.Interrupted);
        }, heartbeatStop.Token);

        TrainingFinished? finished = null;
        TrainingError? error = null;
        EngineExit exit;
        try
        {
            exit = await new SlmLauncher(paths.Slm).TrainAsync(request, async line =>
            {
                if (classify)
                {
                    var c = ClassificationProgress.Parse(line);
                    if (c is null) return;
                    // The outcome reads the end of a run the same way for both tasks.
                    if (c is ClassificationFinished cf) finished = new TrainingFinished(cf.Steps, 0, 0, 0, cf.Cancelled, cf.ClassifierDir, cf.ElapsedSeconds, 0, 0);
                    if (c is ClassificationError ce) error = new TrainingError(ce.Message);
                    await progress.WriteAsync(c, line.Trim());
                    return;
                }
                var e = TrainingEvent.Parse(line);
                if (e is null) return;
                if (e is TrainingFinished f) finished = f;
                if (e is TrainingError err) error = err;
                await progress.WriteAsync(e, line.Trim());
            }, stop.Kill, pid => logger.LogInformation("Run {RunId}: slm train runs as process {ProcessId}", runId, pid));
        }
        catch (Exception e) when (e is FileNotFoundException or System.ComponentModel.Win32Exception)
        {
            logger.LogError(e, "Run {RunId} could not start the training process", runId);
            await FinishAsync(progress, RunStatus.Failed, "The training engine could not be started on this server. Ask your administrator to check the installation.");
            return;
        }
        finally
        {
            await heartbeatStop.CancelAsync();
            await heartbeat;
        }
        await progress.FlushAsync();
        // The checkpoint and the trained model, for the worker that exports or resumes the run.
        await artifacts.CheckInAsync(ArtifactArea.Runs, runKey, CancellationToken.None);

        if (leaseLost)
        {
            // Another worker owns the run now; its status is not ours to write.
            logger.LogWarning("Run {RunId}: this copy stopped after losing its lease", runId);
            return;
        }
        // A classification run asked to stop ends with the cancelled exit code and no finished event (it cannot be
        // resumed, so it keeps no checkpoint): that is the stop that was asked for, not a failure.
        if (classify && finished is null && error is null && exit.ExitCode == SlmLauncher.CancelledExitCode)
            finished = new TrainingFinished(run.Step, 0, 0, 0, Cancelled: true, "", 0, 0, 0);
        var (status, message) = Outcome(exit, finished, error, stop.Reason, shutdown.IsCancellationRequested, folder.HasCheckpoint, run.Attempts);
        logger.LogInformation("Run {RunId}: slm train ended with exit code {ExitCode} (ended by {EndedBy}, finished event: {Finished})",
            runId, exit.ExitCode, exit.EndedBy, finished is null ? "none" : finished.Cancelled ? "cancelled" : "done");
        if (status == RunStatus.Failed)
            logger.LogWarning("Run {RunId} failed with exit code {ExitCode}: {Message}; stderr: {Stderr}", runId, exit.ExitCode, message, exit.StandardErrorTail);
        // A classifier's figures are in its run folder (metrics.json), not in a text run's finished event.
        await FinishAsync(progress, status, message, status == RunStatus.Trained && !classify ? finished : null);
    }

    /// <summary>Empties a classification run's folder for a fresh start, keeping nothing of the attempt before.</summary>
    private static void ClearForRestart(string root)
    {
        foreach (var dir in Directory.GetDirectories(root)) Directory.Delete(dir, recursive: true);
        foreach (var file in Directory.GetFiles(root)) File.Delete(file);
    }

    /// <summary>What a run becomes once its trainer ended, and the message the user sees when it failed.</summary>
    /// <param name="hasCheckpoint">The run folder holds a checkpoint to resume from.</param>
    /// <param name="attempts">How many times the run has been started, this time included.</param>
    public static (RunStatus Status, string? Error) Outcome(EngineExit exit, TrainingFinished? finished, TrainingError? error, RunStatus stopReason, bool shuttingDown,
        bool hasCheckpoint = false, int attempts = 1)
    {
        // Shutdown: left for the start-up sweep to resume. User cancel: stays cancelled, can be resumed.
        if (finished is { Cancelled: true }) return (stopReason, null);
        if (finished is not null && exit.ExitCode == SlmLauncher.SuccessExitCode) return (RunStatus.Trained, null);
        if (shuttingDown || stopReason == RunStatus.Interrupted && exit.Killed) return (RunStatus.Interrupted, null);
        // Asked to stop, it did not within the grace period and was killed by us (a slow step on a busy server):
        // still what was asked for, resumable from its last checkpoint.
        if (exit.Killed) return (stopReason, null);
        // Another trainer holds the folder: the run is its, and the sweep resumes it once that one has stopped.
        if (exit.ExitCode == SlmLauncher.RunFolderBusyExitCode && exit.EndedBy == EndReason.None) return (RunStatus.Interrupted, null);
        if (error is not null) return (RunStatus.Failed, ExplainDiskFull(error.Message));
        var happened = exit.Describe("The training process");
        // Killed from outside is not a fault of the run: it continues from where it was, a few times over.
        if (exit.KilledFromOutside && hasCheckpoint && attempts < MaxAutomaticAttempts)
            return (RunStatus.Interrupted, $"{happened} The run continues from its last checkpoint by itself.");
        var advice = hasCheckpoint
            ? exit.Signal == 9
                ? " Its last checkpoint is kept: resume the run to continue from it, or if the server ran out of memory, try a smaller model size."
                : " Its last checkpoint is kept: resume the run to continue from it."
            : " Try again; if it keeps failing, try a smaller model size.";
        return (RunStatus.Failed, happened + advice);
    }

    /// <summary>The operating system's words for a full disk (Linux and macOS, Windows).</summary>
    private static readonly string[] DiskFullPhrases = ["No space left on device", "There is not enough space on the disk", "Disk quota exceeded"];

    private static bool IsDiskFull(string? text) =>
        text is not null && DiskFullPhrases.Any(p => text.Contains(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// A full disk said first, in plain words; the engine's own message follows (which file, how much space is left,
    /// whether the previous checkpoint is kept and what to do). Any other failure's message is returned unchanged.
    /// </summary>
    public static string ExplainDiskFull(string message) => IsDiskFull(message)
        ? $"The disk is full, so this run stopped: there was no room left on the server to save its progress. {message}"
        : message;

    /// <summary>The engine settings of a run; what the run leaves open, the engine decides.</summary>
    /// <param name="baseModel">The folder of a registered version, or the library name of a base model (<see cref="TrainingRun.BaseModelName"/>).</param>
    /// <param name="library">The base model library that a library name is looked up in.</param>
    public static TrainArguments EngineSettings(TrainingRun run, string dataPath, string runDir, bool resume, string? baseModel, string? library = null) => new(dataPath, runDir)
    {
        Task = run.Task is TrainingTasks.Classify or TrainingTasks.Chat ? run.Task : null,
        // A frozen dataset version holds labelled rows as "text" and "label", whatever the uploaded files called them.
        TextColumn = run.Task == TrainingTasks.Classify ? ClassificationRunOptions.DefaultTextColumn : null,
        LabelColumn = run.Task == TrainingTasks.Classify ? ClassificationRunOptions.DefaultLabelColumn : null,
        // A frozen dataset version holds pairs as "prompt" and "response" (TrainingData gathers them into one file).
        QuestionColumn = run.Task == TrainingTasks.Chat ? TrainingData.ChatQuestionColumn : null,
        AnswerColumn = run.Task == TrainingTasks.Chat ? TrainingData.ChatAnswerColumn : null,
        Library = baseModel is not null && baseModel == run.BaseModelName ? library : null,
        Lora = baseModel is not null && run.UseLora,
        // A base model fixes the size and the tokenizer.
        Preset = baseModel is null ? run.Preset : null,
        VocabSize = run.VocabSize > 0 && baseModel is null ? run.VocabSize : null,
        MaxSteps = run.MaxStepsSetting,
        Minutes = run.Minutes,
        Seed = run.Seed,
        EvalEvery = run.EvalEvery,
        // Short runs report every step or two so the curves have points to draw.
        LogEvery = run.EvalEvery is { } every && every < 20 ? Math.Max(1, every / 4) : null,
        BaseModel = baseModel,
        Resume = resume && run.Task == TrainingTasks.Text,
    };

    /// <summary>The <c>slm train</c> arguments of a run (what <see cref="SlmLauncher"/> starts).</summary>
    public static IReadOnlyList<string> BuildArguments(TrainingRun run, string dataPath, string runDir, bool resume, string? baseModel, string? library = null) =>
        SlmLauncher.TrainCommandLine(EngineSettings(run, dataPath, runDir, resume, baseModel, library));

    /// <summary>A text run's live samples continue the project's goal-test prompts (issue #12, bug 13); other tasks sample nothing.</summary>
    private async Task<IReadOnlyList<string>?> GoalPromptsAsync(TrainingRun run)
    {
        if (run.Task != TrainingTasks.Text) return null;
        await using var db = await dbFactory.CreateDbContextAsync();
        return await db.GoalTests.Where(g => g.ProjectId == run.ProjectId).OrderBy(g => g.Id).Select(g => g.Prompt).ToListAsync();
    }

    /// <summary>What the run starts from: a library base model's name, a registered version's model folder, or nothing.</summary>
    private async Task<string?> BaseModelFolderAsync(TrainingRun run)
    {
        if (run.BaseModelName is { } name) return name;
        if (run.BaseVersionId is not { } id) return null;
        await using var db = await dbFactory.CreateDbContextAsync();
        var version = await db.ModelVersions.SingleOrDefaultAsync(v => v.Id == id);
        // The run that made the version keeps its trainable HF folder (config.json, model.safetensors, tokenizer.json).
        return version is null ? null : RunFolder.At(paths.Run(version.RunId)).ModelDirectory;
    }

    private async Task FinishAsync(RunProgressWriter progress, RunStatus status, string? error, TrainingFinished? finished = null)
    {
        await progress.FinishAsync(status, error, finished);
        logger.LogInformation("Run {RunId} is now {Status}", progress.RunId, status);
    }
}
