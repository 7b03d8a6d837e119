using System.CommandLine;
using System.Globalization;
using SlmStudio.Core.Library;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Training;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

public sealed class TrainCommand : SlmCommand
{
    // Only to show the engine's defaults in the help; an option left out stays unset so TrainingOptions' own value applies.
    private static readonly TrainingOptions Defaults = new() { DataPath = "", RunDirectory = "" };

    private readonly Option<string?> _task = Choice("--task", "what the model is for: text (write like your documents; the default), classify (sort texts into labels) or chat (answer questions)", "text", "classify", "chat");
    private readonly Option<string?> _data = Text("--data", "path", "training text (required unless --resume); for --task classify a CSV or JSONL file with a text and a label column");
    private readonly Option<string?> _textColumn = Text("--text-column", "name", $"--task classify: the column that holds the texts (default {ClassificationRunOptions.DefaultTextColumn})");
    private readonly Option<string?> _labelColumn = Text("--label-column", "name", $"--task classify: the column that holds the labels (default {ClassificationRunOptions.DefaultLabelColumn})");
    private readonly Option<string?> _questionColumn = Text("--question-column", "name", $"--task chat: the column that holds the questions (default {SlmStudio.Core.Instruction.InstructionColumns.DefaultQuestion}); JSONL chats with a \"messages\" list need no columns");
    private readonly Option<string?> _answerColumn = Text("--answer-column", "name", $"--task chat: the column that holds the answers (default {SlmStudio.Core.Instruction.InstructionColumns.DefaultAnswer})");
    private readonly Option<string?> _systemColumn = Text("--system-column", "name", "--task chat: an optional column with a system instruction or context text for each question");
    private readonly Option<string?> _out = Text("--out", "folder", "the run folder: checkpoints, metrics and the trained model", required: true);
    private readonly Option<string?> _preset = Text("--preset", "name", $"tiny, small, medium, large or auto (default: {Defaults.Preset} picks the size for your data and time)");
    private readonly Option<double?> _minutes = Double("--minutes", "N", string.Create(CultureInfo.InvariantCulture, $"time budget for the whole run (default {TrainingOptions.DefaultMinutes} when --max-steps is not given)"), 0.05, 100_000);
    private readonly Option<int?> _maxSteps = Int("--max-steps", "N", "exact number of optimizer steps instead of a time budget", 1);
    private readonly Option<string?> _base = Text("--base", "folder|name", "fine-tune this Hugging Face model folder, or this model of the base model library (slm import), instead of starting from scratch");
    private readonly Option<string?> _library = Text("--library", "folder", $"the base model library that --base names are looked up in (default {BaseModelLibrary.DefaultFolder}/)");
    private readonly Option<bool> _lora = Flag("--lora", "with --base: train small LoRA adapters on the frozen base model instead of every weight (far less memory; the adapters are also saved in PEFT's layout)");
    private readonly Option<int?> _loraRank = Int("--lora-rank", "R", $"--lora: the adapters' rank (default {SlmStudio.Core.Models.LoraConfig.DefaultRank})", 1, SlmStudio.Core.Models.LoraConfig.MaxRank);
    private readonly Option<double?> _loraAlpha = Double("--lora-alpha", "A", string.Create(CultureInfo.InvariantCulture, $"--lora: the adapters' scale is alpha / rank (default alpha {SlmStudio.Core.Models.LoraConfig.DefaultAlpha})"), 1e-6, 1e6);
    private readonly Option<double?> _loraDropout = Double("--lora-dropout", "D", string.Create(CultureInfo.InvariantCulture, $"--lora: dropout on the adapters' input (default {SlmStudio.Core.Models.LoraConfig.DefaultDropout})"), 0, 0.99);
    private readonly Option<double?> _tokenDropout = Double("--token-dropout", "P", $"--task classify: leave out each token of a training text with this probability, anew each step, so the model copes with new wordings (default {ClassificationRunOptions.ScratchTokenDropout.ToString(CultureInfo.InvariantCulture)} from scratch, 0 with --base)", 0, 0.9);
    private readonly Option<double?> _labelSmoothing = Double("--label-smoothing", "E", $"--task classify: spread this much of each target evenly over all labels (default {ClassificationRunOptions.ScratchLabelSmoothing.ToString(CultureInfo.InvariantCulture)} from scratch, 0 with --base)", 0, 0.5);
    private readonly Option<double?> _headDropout = Double("--head-dropout", "P", $"--task classify: dropout on the pooled text vector before the label head (default {ClassificationRunOptions.ScratchHeadDropout.ToString(CultureInfo.InvariantCulture)} from scratch, 0 with --base)", 0, 0.9);
    private readonly Option<int?> _pairBuckets = Int("--word-buckets", "N", $"--task classify: a score per label for each word piece and each pair of neighbouring word pieces (hashed into N buckets), learned beside the model, so telling words count even in new wordings (default {SlmStudio.Core.Classification.TokenPairs.DefaultBuckets} from scratch; 0 turns them off, the default with --base)", 0, 1 << 24);
    private readonly Option<double?> _backboneBound = Double("--backbone-bound", "B", $"--task classify with word scores: the model's own part may move a label's score by at most B, so that the word scores keep their say on new wordings (default {ClassificationRunOptions.ScratchBackboneBound.ToString(CultureInfo.InvariantCulture)} from scratch; 0: no bound, the default with --base)", 0, 100);
    private readonly Option<bool> _resume = Flag("--resume", "continue the run in --out from its last checkpoint");
    private readonly Option<int?> _seed = Int("--seed", "N", $"random seed (default {Defaults.Seed})", 0);
    private readonly Option<int?> _vocabSize = Int("--vocab-size", "N", $"tokenizer vocabulary size when training from scratch (default: fitted to the amount of text, {SlmStudio.Core.Verdicts.TrainingAdvice.VocabularyFor(0):N0} to {SlmStudio.Core.Verdicts.TrainingAdvice.VocabularyFor(long.MaxValue):N0}; {TrainingOptions.DefaultVocabSize:N0} for --task classify and chat)", 260, 1_000_000);
    private readonly Option<int?> _evalEvery = Int("--eval-every", "N", $"steps between evaluations and checkpoints (default {Defaults.EvalEvery})", 1);
    private readonly Option<int?> _logEvery = Int("--log-every", "N", $"steps between progress lines (default {Defaults.LogEvery})", 1);
    private readonly Option<int?> _batchSize = Int("--batch-size", "N", "sequences per step (default: the preset's)", 1, 4096);
    private readonly Option<int?> _context = Int("--context", "N", "tokens per sequence (default: the preset's)", 8, 1 << 16);
    private readonly Option<int?> _gradAccum = Int("--grad-accum", "N", $"micro-batches per optimizer step (default {Defaults.GradientAccumulation})", 1, 1024);
    private readonly Option<double?> _lr = Double("--lr", "X", "peak learning rate (default: the preset's; 3e-4 for fine-tuning, 1e-3 with --lora)", 1e-7, 1);
    private readonly Option<double?> _dropout = Double("--dropout", "P", string.Create(CultureInfo.InvariantCulture, $"dropout on the model's residual branches while training (default: {RepetitionDropout.Rate} when the schedule reads the training text {RepetitionDropout.ManyPasses} times or more, {RepetitionDropout.HighRate} from {RepetitionDropout.VeryManyPasses} times when the text has fewer than {RepetitionDropout.SmallTextTokensPerParameter} tokens per model parameter, else 0)"), 0, 0.9);
    private readonly Option<double?> _weightDecay = Double("--weight-decay", "X", string.Create(CultureInfo.InvariantCulture, $"AdamW's weight decay (default: {RepetitionWeightDecay.High} for a model from scratch when the schedule reads the training text {RepetitionWeightDecay.ManyPasses} times or more, else {RepetitionWeightDecay.Default})"), 0, 10);
    private readonly Option<string?> _optimizer = Choice("--optimizer", "how the weight matrices inside the model's layers learn: muon (each step's direction made orthogonal; measurably better per step) or adamw (default: the preset's, muon for tiny and adamw for the larger presets and for fine-tuning)", ["adamw", "muon"]);
    private readonly Option<int?> _warmup = Int("--warmup", "N", "warmup steps (default: a tenth of the run, at most 100)", 1);
    private readonly Option<string?> _device = Text("--device", "name", $"auto, cpu or cuda (default {Defaults.Device}: the GPU when there is one)");
    private readonly Option<string?> _precision = Choice("--precision", $"the number format of language-model training steps (all tasks): bf16 is much faster on processors with bfloat16 instructions; the weights stay float32 (default {SlmStudio.Core.Training.TrainingPrecision.Auto}: bf16 for models from scratch on a CPU with bfloat16 instructions)", [.. SlmStudio.Core.Training.TrainingPrecision.Names]);
    private readonly Option<string[]> _samplePrompts = new("--sample-prompt")
    {
        HelpName = "text",
        Description = $"a prompt the live samples at each evaluation continue, such as a goal test (repeat for more; at most {RunPreparation.MaxSamplePrompts}; default: the opening words of validation documents)",
        AllowMultipleArgumentsPerToken = false,
    };
    private readonly Option<bool> _stopWithParent = Flag(SlmStudio.Core.Processes.SlmLauncher.StopWithParentOption, "stop (after a checkpoint) when standard input closes: the portal's pipe, closed by the system when the portal ends");

    public TrainCommand() : base("train", "Train a model (write like us, or sort texts into labels) from your data; prints progress as JSON lines.", """
        Trains a Llama-style model from .txt/.md text (a file, a folder, or a dataset version folder with
        dataset.json, train.txt and val.txt). Progress goes to standard output as JSON lines, one object per line,
        each with an "event" of started, message, step, eval, checkpoint, finished or error.

        To cancel a run, press Ctrl+C or create the file CANCEL in the run folder: it stops within a step,
        keeps a checkpoint, and --resume continues it.

        --task classify trains a model that sorts texts into labels ("Sort and route") from a CSV or JSONL file
        (--text-column, --label-column). The labels are reviewed first; the split keeps each label's share; a
        simple keyword model (ML.NET) is trained alongside for comparison. From scratch, the model first learns
        the language of the texts (about a third of the time or steps; in language/), then the labels; with
        --base it starts from that model and goes straight to the labels. The run folder gets classifier/,
        baseline.zip, metrics.json (per-label figures of both models) and result.json. A stopped or killed
        classification run continues with --resume --out <run> (the label phase keeps a checkpoint at each
        evaluation and when stopped; "checkpoint" events say so). Events carry a "phase" of "language" or "labels"; eval events of the label phase
        carry accuracy and macroF1, and finished carries accuracy, macroF1, baselineAccuracy, baselineMacroF1
        and classifierDir.

        --task chat trains a model that answers questions ("Answer questions") from question/answer pairs in a
        CSV, JSONL or Excel file (--question-column, --answer-column, optional --system-column), or JSONL chats
        with a "messages" list of {"role", "content"}. The pairs are reviewed first; about a tenth is held back
        (the same question never on both sides). From scratch, the model first learns the language of the
        pairs (about a third of the time or steps; in language/, with chat tokens added to the tokenizer), then
        the conversations with the loss on the answers only; with --base it uses the base model's own chat
        template (or "### Question:/### Answer:" when it has none) and goes straight to the pairs. The run
        folder holds the instruction phase as a normal run (model/ with the chat template in
        tokenizer_config.json), chat.json, instruction/ and chat-results.json (exact match, token F1, ROUGE-L
        and the best and worst answers beside the expected ones). Events are those of --task text; the last
        message before finished gives the held-out scores.
        """)
    {
        foreach (var option in new Option[] { _task, _data, _textColumn, _labelColumn, _out, _preset, _minutes, _maxSteps, _base, _library, _lora, _loraRank, _loraAlpha, _loraDropout, _resume, _seed, _vocabSize, _evalEvery,
                     _logEvery, _batchSize, _context, _gradAccum, _lr, _dropout, _weightDecay, _optimizer, _warmup, _device, _precision, _stopWithParent })
            Options.Add(option);
        foreach (var option in new Option[] { _questionColumn, _answerColumn, _systemColumn, _tokenDropout, _labelSmoothing, _headDropout, _pairBuckets, _backboneBound }) Options.Add(option);
        Options.Add(_samplePrompts);
        Validators.Add(result =>
        {
            if (result.GetValue(_task) is not "chat" && (result.GetResult(_questionColumn) is not null || result.GetResult(_answerColumn) is not null || result.GetResult(_systemColumn) is not null))
                result.AddError("--question-column, --answer-column and --system-column apply only with --task chat.");
            else if (result.GetValue(_task) is "chat" && result.GetValue(_resume)) result.AddError("An instruction-tuning run (--task chat) cannot be resumed; start it again in a new run folder.");
            if (result.GetResult(_data) is null && !result.GetValue(_resume)) result.AddError("--data is required.");
            else if (result.GetResult(_minutes) is not null && result.GetResult(_maxSteps) is not null) result.AddError("Give either --minutes or --max-steps, not both.");
            else if (result.GetResult(_base) is not null && result.GetResult(_preset) is not null) result.AddError("--preset does not apply with --base: the base model fixes the size.");
            else if (result.GetValue(_task) is not "classify" && (result.GetResult(_textColumn) is not null || result.GetResult(_labelColumn) is not null))
                result.AddError("--text-column and --label-column apply only with --task classify.");
            else if (result.GetValue(_task) is not "classify" && (result.GetResult(_tokenDropout) ?? result.GetResult(_labelSmoothing) ?? result.GetResult(_headDropout) ?? result.GetResult(_pairBuckets) ?? (object?)result.GetResult(_backboneBound)) is not null)
                result.AddError("--token-dropout, --label-smoothing, --head-dropout, --word-buckets and --backbone-bound apply only with --task classify.");
            else if (result.GetValue(_task) is "classify" or "chat" && (result.GetResult(_dropout) ?? result.GetResult(_weightDecay) ?? (object?)result.GetResult(_optimizer)) is not null) result.AddError("--dropout, --weight-decay and --optimizer apply only to --task text.");
            else if (LoraError(result) is { } loraError) result.AddError(loraError);
        });
    }

    protected override Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var task = parsed.GetValue(_task) ?? "text";
        if (task == "chat") return Task.FromResult(TrainChat.Run(ChatOptions(parsed), parsed.GetValue(_stopWithParent), cancellationToken));
        // A classification run continues as one whether or not --task classify is repeated.
        if (task == "classify" || (parsed.GetValue(_resume) && task == "text" && parsed.GetResult(_task) is null && ClassificationRunFolder.IsClassificationRun(parsed.GetValue(_out)!)))
            return Task.FromResult(RunClassification(parsed, cancellationToken));
        var resume = parsed.GetValue(_resume);
        var given = new TrainingOptions { DataPath = parsed.GetValue(_data) ?? "", RunDirectory = parsed.GetValue(_out)! };
        var options = given with
        {
            Preset = parsed.GetValue(_preset) ?? given.Preset,
            Minutes = parsed.GetValue(_minutes),
            MaxSteps = parsed.GetValue(_maxSteps),
            BaseModel = null,
            Seed = parsed.GetValue(_seed) ?? given.Seed,
            VocabSize = parsed.GetValue(_vocabSize) ?? given.VocabSize,
            EvalEvery = parsed.GetValue(_evalEvery) ?? given.EvalEvery,
            LogEvery = parsed.GetValue(_logEvery) ?? given.LogEvery,
            BatchSize = parsed.GetValue(_batchSize),
            ContextLength = parsed.GetValue(_context),
            GradientAccumulation = parsed.GetValue(_gradAccum) ?? given.GradientAccumulation,
            LearningRate = parsed.GetValue(_lr),
            WarmupSteps = parsed.GetValue(_warmup),
            Dropout = parsed.GetValue(_dropout),
            WeightDecay = parsed.GetValue(_weightDecay),
            Optimizer = parsed.GetValue(_optimizer) switch { "muon" => MatrixOptimizer.Muon, "adamw" => MatrixOptimizer.AdamW, _ => null },
            Device = parsed.GetValue(_device) ?? given.Device,
            Precision = parsed.GetValue(_precision) ?? given.Precision,
            Lora = LoraFrom(parsed),
            SamplePrompts = parsed.GetValue(_samplePrompts) is { Length: > 0 } prompts ? prompts : null,
        };

        var writer = new JsonLinesProgress();
        if (parsed.GetValue(_stopWithParent))
            cancellationToken = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, SlmStudio.Core.Processes.ParentWatch.WhenStandardInputCloses()).Token;
        try
        {
            if (parsed.GetValue(_base) is { } baseModel)
                options = options with { BaseModel = new BaseModelLibrary(parsed.GetValue(_library) ?? BaseModelLibrary.DefaultFolder).ResolveFolder(baseModel) };
            new Trainer(options, writer).Run(resume, cancellationToken);
            return Task.FromResult(0);
        }
        catch (RunFolderBusyException e)
        {
            // Its own exit code: the portal leaves the run to the trainer that holds the folder instead of failing it.
            writer.Report(new TrainingError(e.Message));
            Console.Error.WriteLine($"error: {e.Message}");
            return Task.FromResult(SlmStudio.Core.Processes.SlmLauncher.RunFolderBusyExitCode);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The portal reads the error event from standard output; the top level prints the same message as one line.
            writer.Report(new TrainingError(e is SlmStudio.Core.EngineException ? e.Message : $"{e.Message} ({e.GetType().Name})"));
            throw;
        }
    }

    private SlmStudio.Core.Instruction.InstructionRunOptions ChatOptions(ParseResult parsed)
    {
        if (parsed.GetResult(_gradAccum) is not null || parsed.GetResult(_warmup) is not null)
            throw new UsageException("--grad-accum and --warmup apply only to --task text.");
        var given = new SlmStudio.Core.Instruction.InstructionRunOptions { DataPath = parsed.GetValue(_data)!, RunDirectory = parsed.GetValue(_out)! };
        return given with
        {
            Columns = new(parsed.GetValue(_questionColumn) ?? given.Columns.Question, parsed.GetValue(_answerColumn) ?? given.Columns.Answer, parsed.GetValue(_systemColumn)),
            Preset = parsed.GetValue(_preset) ?? given.Preset,
            Minutes = parsed.GetValue(_minutes),
            MaxSteps = parsed.GetValue(_maxSteps),
            BaseModel = parsed.GetValue(_base) is { } b ? new BaseModelLibrary(parsed.GetValue(_library) ?? BaseModelLibrary.DefaultFolder).ResolveFolder(b) : null,
            Lora = LoraFrom(parsed),
            Seed = parsed.GetValue(_seed) ?? given.Seed,
            VocabSize = parsed.GetValue(_vocabSize) ?? given.VocabSize,
            EvalEvery = parsed.GetValue(_evalEvery),
            LogEvery = parsed.GetValue(_logEvery) ?? given.LogEvery,
            BatchSize = parsed.GetValue(_batchSize),
            ContextLength = parsed.GetValue(_context),
            LearningRate = parsed.GetValue(_lr),
            Device = parsed.GetValue(_device) ?? given.Device,
            Precision = parsed.GetValue(_precision) ?? given.Precision,
        };
    }

    private string? LoraError(System.CommandLine.Parsing.CommandResult result)
    {
        var lora = result.GetValue(_lora);
        if (!lora && (result.GetResult(_loraRank) ?? result.GetResult(_loraAlpha) ?? (object?)result.GetResult(_loraDropout)) is not null)
            return "--lora-rank, --lora-alpha and --lora-dropout apply only with --lora.";
        if (!lora || result.GetValue(_resume)) return null; // a resumed run keeps the adapters it was started with
        if (result.GetResult(_base) is null)
            return "--lora fine-tunes an existing model: add --base with a model folder or a base model from the library (slm import). Without --base the model is trained from scratch, which needs every weight.";
        return null;
    }

    private SlmStudio.Core.Models.LoraConfig? LoraFrom(ParseResult parsed) => parsed.GetValue(_lora)
        ? new SlmStudio.Core.Models.LoraConfig
        {
            Rank = parsed.GetValue(_loraRank) ?? SlmStudio.Core.Models.LoraConfig.DefaultRank,
            Alpha = parsed.GetValue(_loraAlpha) ?? SlmStudio.Core.Models.LoraConfig.DefaultAlpha,
            Dropout = parsed.GetValue(_loraDropout) ?? SlmStudio.Core.Models.LoraConfig.DefaultDropout,
        }
        : null;

    private int RunClassification(ParseResult parsed, CancellationToken cancellationToken)
    {
        var resume = parsed.GetValue(_resume);
        var parentGone = parsed.GetValue(_stopWithParent) ? SlmStudio.Core.Processes.ParentWatch.WhenStandardInputCloses() : CancellationToken.None;
        if (resume) return RunClassification(() => ClassificationRunOptions.Load(parsed.GetValue(_out)!), resume: true, parentGone, cancellationToken);
        var given = new ClassificationRunOptions { DataPath = parsed.GetValue(_data)!, RunDirectory = parsed.GetValue(_out)! };
        var options = given with
        {
            TextColumn = parsed.GetValue(_textColumn) ?? given.TextColumn,
            LabelColumn = parsed.GetValue(_labelColumn) ?? given.LabelColumn,
            Preset = parsed.GetValue(_preset) ?? given.Preset,
            Minutes = parsed.GetValue(_minutes),
            MaxSteps = parsed.GetValue(_maxSteps),
            // A library name resolves as for text runs; a folder path stays as given.
            BaseModel = parsed.GetValue(_base) is { } baseModel ? new BaseModelLibrary(parsed.GetValue(_library) ?? BaseModelLibrary.DefaultFolder).ResolveFolder(baseModel) : null,
            Lora = LoraFrom(parsed),
            Seed = parsed.GetValue(_seed) ?? given.Seed,
            VocabSize = parsed.GetValue(_vocabSize) ?? given.VocabSize,
            EvalEvery = parsed.GetValue(_evalEvery),
            LogEvery = parsed.GetValue(_logEvery) ?? given.LogEvery,
            BatchSize = parsed.GetValue(_batchSize),
            ContextLength = parsed.GetValue(_context),
            LearningRate = parsed.GetValue(_lr),
            Device = parsed.GetValue(_device) ?? given.Device,
            Precision = parsed.GetValue(_precision) ?? given.Precision,
            TokenDropout = parsed.GetValue(_tokenDropout),
            LabelSmoothing = parsed.GetValue(_labelSmoothing),
            HeadDropout = parsed.GetValue(_headDropout),
            PairBuckets = parsed.GetValue(_pairBuckets),
            BackboneBound = parsed.GetValue(_backboneBound),
        };
        if (parsed.GetResult(_gradAccum) is not null || parsed.GetResult(_warmup) is not null)
            throw new UsageException("--grad-accum and --warmup apply only to --task text.");
        return RunClassification(() => options, resume: false, parentGone, cancellationToken);
    }

    private static int RunClassification(Func<ClassificationRunOptions> options, bool resume, CancellationToken parentGone, CancellationToken cancellationToken)
    {
        var writer = new JsonLines<ClassificationEvent>(e => e.ToJsonLine());
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, parentGone);
        try
        {
            new ClassificationRun(options(), writer).Run(resume, stop.Token);
            return 0;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C is reported by the top level; these two stops are the parent's end and the CANCEL file.
            Console.Error.WriteLine(parentGone.IsCancellationRequested
                ? "Stopped: the program that started this training has ended. What was trained so far is kept; continue with slm train --resume --out <run folder>."
                : "Stopped: the run folder has a CANCEL file. What was trained so far is kept; continue with slm train --resume --out <run folder>.");
            return SlmStudio.Core.Processes.SlmLauncher.CancelledExitCode;
        }
        catch (RunFolderBusyException e)
        {
            // As for text runs: the portal leaves the run to the trainer that holds the folder instead of failing it.
            writer.Report(new ClassificationError(e.Message));
            Console.Error.WriteLine($"error: {e.Message}");
            return SlmStudio.Core.Processes.SlmLauncher.RunFolderBusyExitCode;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            writer.Report(new ClassificationError(e is SlmStudio.Core.EngineException ? e.Message : $"{e.Message} ({e.GetType().Name})"));
            throw;
        }
    }

    private sealed class JsonLines<T>(Func<T, string> toLine) : IProgress<T>
    {
        private readonly Lock _gate = new();

        public void Report(T value)
        {
            lock (_gate)
            {
                Console.Out.WriteLine(toLine(value));
                Console.Out.Flush();
            }
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
