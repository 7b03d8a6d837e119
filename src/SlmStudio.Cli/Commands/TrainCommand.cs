using SlmStudio.Core.Training;

namespace SlmStudio.Cli.Commands;

public sealed class TrainCommand : ICliCommand
{
    public string Name => "train";
    public string Summary => "Train a language model from text (or fine-tune one); prints progress as JSON lines.";
    public string Help => """
        Usage: slm train --data <file|folder> --out <run folder> [options]

        Trains a Llama-style model from .txt/.md text (a file, a folder, or a dataset version folder with
        dataset.json, train.txt and val.txt). Progress goes to standard output as JSON lines, one object per line,
        each with an "event" of started, message, step, eval, checkpoint, finished or error.

          --data <path>          training text (required unless --resume)
          --out <folder>         the run folder: checkpoints, metrics and the trained model (required)
          --preset <name>        tiny, small, medium, large or auto (default: auto picks the size for your data and time)
          --minutes <N>          time budget for the whole run (default 10 when --max-steps is not given)
          --max-steps <N>        exact number of optimizer steps instead of a time budget
          --base <folder>        fine-tune this Hugging Face Llama-family model folder instead of starting from scratch
          --resume               continue the run in --out from its last checkpoint
          --seed <N>             random seed (default 1337)
          --vocab-size <N>       tokenizer vocabulary size when training from scratch (default 4096)
          --eval-every <N>       steps between evaluations and checkpoints (default 100)
          --log-every <N>        steps between progress lines (default 10)
          --batch-size <N>       sequences per step (default: the preset's)
          --context <N>          tokens per sequence (default: the preset's)
          --grad-accum <N>       micro-batches per optimizer step (default 1)
          --lr <X>               peak learning rate (default: the preset's; 3e-4 for fine-tuning)
          --warmup <N>           warmup steps (default: a tenth of the run, at most 100)
          --device <name>        auto, cpu or cuda (default auto: the GPU when there is one)

        To cancel a run, press Ctrl+C or create the file CANCEL in the run folder: it stops within a step,
        keeps a checkpoint, and --resume continues it.
        """;

    public Task<int> RunAsync(CliArgs args, CancellationToken cancellationToken)
    {
        var resume = args.Flag("resume");
        var options = new TrainingOptions
        {
            DataPath = resume ? args.String("data") ?? "" : args.Required("data"),
            RunDirectory = args.Required("out"),
            Preset = args.String("preset") ?? "auto",
            Minutes = args.Double("minutes", 0.05, 100_000),
            MaxSteps = args.Int("max-steps", 1),
            BaseModel = args.String("base"),
            Seed = args.Int("seed", 0) ?? 1337,
            VocabSize = args.Int("vocab-size", 260, 1_000_000) ?? 4096,
            EvalEvery = args.Int("eval-every", 1) ?? 100,
            LogEvery = args.Int("log-every", 1) ?? 10,
            BatchSize = args.Int("batch-size", 1, 4096),
            ContextLength = args.Int("context", 8, 1 << 16),
            GradientAccumulation = args.Int("grad-accum", 1, 1024) ?? 1,
            LearningRate = args.Double("lr", 1e-7, 1),
            WarmupSteps = args.Int("warmup", 1),
            Device = args.String("device") ?? "auto",
        };
        args.EnsureAllUsed(0);
        if (options.Minutes is not null && options.MaxSteps is not null) throw new UsageException("Give either --minutes or --max-steps, not both.");
        if (options.BaseModel is not null && args.Has("preset")) throw new UsageException("--preset does not apply with --base: the base model fixes the size.");

        var writer = new JsonLinesProgress();
        try
        {
            var finished = new Trainer(options, writer).Run(resume, cancellationToken);
            return Task.FromResult(0);
        }
        catch (SlmStudio.Core.EngineException e)
        {
            writer.Report(new TrainingError(e.Message));
            Console.Error.WriteLine($"error: {e.Message}");
            return Task.FromResult(1);
        }
    }

    /// <summary>Writes each event at once as one line, so a parent process sees progress as it happens.</summary>
    private sealed class JsonLinesProgress : IProgress<TrainingEvent>
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
