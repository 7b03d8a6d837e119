using SlmStudio.Core;
using SlmStudio.Core.Instruction;
using SlmStudio.Core.Processes;
using SlmStudio.Core.Training;

namespace SlmStudio.Cli.Commands;

/// <summary><c>slm train --task chat</c>: an instruction-tuning run with its progress as JSON lines (the events of a text run).</summary>
internal static class TrainChat
{
    public static int Run(InstructionRunOptions options, bool stopWithParent, CancellationToken cancellationToken)
    {
        if (stopWithParent) cancellationToken = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, ParentWatch.WhenStandardInputCloses()).Token;
        var writer = new JsonLines();
        try
        {
            new InstructionRun(options, writer).Run(cancellationToken);
            return 0;
        }
        catch (RunFolderBusyException e)
        {
            writer.Report(new TrainingError(e.Message));
            Console.Error.WriteLine($"error: {e.Message}");
            return SlmLauncher.RunFolderBusyExitCode;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            writer.Report(new TrainingError(e is EngineException ? e.Message : $"{e.Message} ({e.GetType().Name})"));
            throw;
        }
    }

    private sealed class JsonLines : IProgress<TrainingEvent>
    {
        private readonly Lock _gate = new();

        public void Report(TrainingEvent value)
        {
            lock (_gate)
            {
                Console.Out.WriteLine(value.ToJsonLine());
                Console.Out.Flush();
            }
        }
    }
}
