using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms.Text;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using static TorchSharp.torch;

// Ablations for the "Sort and route" defaults, on a finished classification run (its frozen split, tokenizer and
// language-phase backbone) and a test file with the same columns (bench/README.md):
//
//   dotnet run --project bench/ClassifierAblation -c Release -- keyword <run> <test.csv>
//       the keyword model with parts of its features left out (word n-grams, character 4-grams, case)
//   dotnet run --project bench/ClassifierAblation -c Release -- words|joint <run> <test.csv> [--steps N] [--lr X]
//       [--token-dropout P] [--word-l2 X] [--no-spelling] [--backbone-bound B] [--freeze-backbone]
//       words: only the word scores learn (the head is zero and frozen); joint: everything, as slm train does
//       (--freeze-backbone: all but the language-phase backbone)
//   dotnet run --project bench/ClassifierAblation -c Release -- calibrate <run> <test.csv>
//       the run's classifier on the test file before and after fitting its temperature on the validation texts
//
// Each run prints the validation and test accuracy every 100 steps. One run per setting is noisy (±1 point).
var mode = args[0];
var run = args[1];
var testPath = args[2];
string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
double Number(string name, double fallback) => Option(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

var labels = ClassifierLabels.Load(Path.Combine(run, "classifier", ClassifierFolder.LabelsFile)).Labels;
List<LabelledExample> ReadSplit(string name) => [.. File.ReadLines(Path.Combine(run, "data", name)).Select((line, i) =>
{
    var e = JsonDocument.Parse(line).RootElement;
    return new LabelledExample(e.GetProperty("text").GetString()!, e.GetProperty("label").GetString()!, i);
})];
var trainTexts = ReadSplit("train.jsonl");
var testTexts = LabelledData.ReadFile(testPath, Path.GetFileName(testPath), "text", "label").Examples;

if (mode == "keyword")
{
    foreach (var (name, words, chars, lower) in new[] { ("as the baseline", 2, true, true), ("word 1-2-grams only", 2, false, true), ("word unigrams only", 1, false, true), ("character 4-grams only", 0, true, true), ("word 1-2-grams, case kept", 2, false, false) })
    {
        var ml = new MLContext(1);
        var features = new TextFeaturizingEstimator.Options
        {
            CaseMode = lower ? TextNormalizingEstimator.CaseMode.Lower : TextNormalizingEstimator.CaseMode.None,
            KeepDiacritics = false, KeepPunctuations = false, KeepNumbers = true,
            WordFeatureExtractor = words > 0 ? new WordBagEstimator.Options { NgramLength = words, UseAllLengths = true, Weighting = NgramExtractingEstimator.WeightingCriteria.TfIdf } : null,
            CharFeatureExtractor = chars ? new WordBagEstimator.Options { NgramLength = 4, UseAllLengths = false, Weighting = NgramExtractingEstimator.WeightingCriteria.TfIdf } : null,
            Norm = TextFeaturizingEstimator.NormFunction.L2,
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Text.FeaturizeText("Features", features, nameof(KeywordBaseline.Row.Text)))
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 }))
            .Fit(ml.Data.LoadFromEnumerable(trainTexts.Select(e => new KeywordBaseline.Row { Text = e.Text, Label = e.Label })));
        var test = ml.Data.LoadFromEnumerable(testTexts.Select(e => new KeywordBaseline.Row { Text = e.Text, Label = e.Label }));
        Console.WriteLine($"keyword model, {name}: test accuracy {ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy:0.0000}");
    }
    return;
}

var tokenizer = TokenizerFile.Load(Path.Combine(run, "language", ModelFolder.TokenizerFile));
var train = ClassifierTrainer.Tokenize(tokenizer, trainTexts, labels, ClassificationRunOptions.DefaultMaxTokens);
var validation = ClassifierTrainer.Tokenize(tokenizer, ReadSplit("validation.jsonl"), labels, ClassificationRunOptions.DefaultMaxTokens);
var testSet = ClassifierTrainer.Tokenize(tokenizer, testTexts, labels, ClassificationRunOptions.DefaultMaxTokens);
if (mode == "calibrate")
{
    // The run's saved classifier: test accuracy and calibration error as saved, then with the temperature fitted on the validation texts.
    using var saved = ClassifierFolder.Load(Path.Combine(run, "classifier"));
    void Report(string when)
    {
        var m = ClassifierTrainer.Evaluate(saved, testSet);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{when}: temperature {saved.Temperature:0.00}, test accuracy {m.Accuracy:0.0000}, calibration error {m.Calibration.ExpectedCalibrationError:0.000}"));
    }
    Report("as saved");
    saved.Temperature = 1;
    Report("untempered");
    saved.Temperature = ClassifierTrainer.FitTemperature(saved, validation);
    Report("fitted on validation");
    return;
}
var (languageModel, config) = ModelFolder.Load(Path.Combine(run, "language", "model"));
using var classifier = new LlamaForSequenceClassification(config, labels, pairBuckets: TokenPairs.DefaultBuckets,
    spelling: args.Contains("--no-spelling") ? null : TokenSpelling.Of(tokenizer), backboneBound: Number("--backbone-bound", 0));
classifier.InitializeWeights(42);
classifier.LoadBackbone(languageModel);
if (mode == "words")
{
    using (no_grad()) classifier.named_parameters().First(p => p.name == "score.weight").parameter.zero_();
    foreach (var (name, p) in classifier.named_parameters()) p.requires_grad = LlamaForSequenceClassification.IsWordScore(name);
}
else if (args.Contains("--freeze-backbone"))
    foreach (var (name, p) in classifier.named_parameters()) p.requires_grad = !name.StartsWith("model.", StringComparison.Ordinal);
var trainer = new ClassifierTrainer(new ClassifierTrainingOptions
{
    MaxSteps = (int)Number("--steps", 1500),
    LearningRate = Number("--lr", 1e-3),
    TokenDropout = Number("--token-dropout", ClassificationRunOptions.ScratchTokenDropout),
    LabelSmoothing = ClassificationRunOptions.ScratchLabelSmoothing,
    HeadDropout = ClassificationRunOptions.ScratchHeadDropout,
    WordScoreL2 = Number("--word-l2", new ClassifierTrainingOptions().WordScoreL2),
    EvaluateEvery = 100,
    Patience = int.MaxValue, // the whole schedule: the test curve is what this measures
    Seed = 42,
});
trainer.Evaluated += e => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"step {e.Step}: validation {e.Validation.Accuracy:0.000}, test {ClassifierTrainer.Evaluate(classifier, testSet).Accuracy:0.0000}"));
var result = trainer.Train(classifier, train, validation);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{mode}: best validation at step {result.BestStep}, test accuracy there {ClassifierTrainer.Evaluate(classifier, testSet).Accuracy:0.0000}"));
