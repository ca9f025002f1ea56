import Distributed
import Foundation
import Influence
import Testing
import TensorCore

/// The memory plan against closed forms of what each stage holds, and its refusal.
@Suite("Memory plans of fits and scoring runs")
struct MemoryPlanTests {
    func item(_ plan: MemoryPlan, _ stage: String, _ prefix: String) -> Int? {
        plan.stages.first { $0.name == stage }?.items.first { $0.name.hasPrefix(prefix) }?.bytes
    }

    @Test func fitStagesHoldTheSumsOfTheTrackedShapes() throws {
        // [3, 4, 3]: layers.0 is [4, 3 + 1], layers.1 is [3, 4 + 1].
        let task = Fixtures.classificationTask(Float.self)
        let squares = (4 * 4 + 4 * 4) + (5 * 5 + 3 * 3), products = 4 * 4 + 3 * 5
        // 7 examples in batches of 1 and 8 blocks: 7 blocks, of which the tree holds at most 2
        // nodes beside the block in progress (before leaves 3, 5 and 6); 2 blocks: 1 beside it.
        for (blocks, held) in [(8, 3), (1, 1), (2, 2)] {
            let configuration = FitConfiguration(strategy: EKFACStrategy(), labels: .data, batchSize: 1, reductionBlocks: blocks)
            let plan = try FactorFitter(task: task, modules: [], configuration: configuration).memoryPlan()
            #expect(item(plan, "covariance pass", "covariance sums") == held * squares * 4, "\(blocks) blocks")
            #expect(item(plan, "Λ pass", "Λ sums") == held * products * 4)
            #expect(item(plan, "eigendecomposition", "covariances") == 4 * squares * 8)
            // The probe batch's bytes come from a process-wide counter that tests running at the
            // same time also move, so only its presence is checked here.
            #expect(item(plan, "covariance pass", "one batch") != nil)
            #expect(plan.peak == plan.resident + plan.stages.map(\.bytes).max()!)
        }
        let double = FitConfiguration(strategy: KFACStrategy(), labels: .data, batchSize: 1, accumulatesInDouble: true, reductionBlocks: 1)
        let plan = try FactorFitter(task: task, modules: [], configuration: double).memoryPlan()
        #expect(item(plan, "covariance pass", "covariance sums") == squares * 8)
        #expect(!plan.stages.contains { $0.name == "Λ pass" }, "K-FAC has no Λ pass")
    }

    @Test func aPlanBeyondTheLimitIsRefusedWithWhatToChange() throws {
        let task = Fixtures.classificationTask(Float.self)
        let plan = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: EKFACStrategy(), labels: .data)).memoryPlan()
        try plan.check(limit: plan.peak)
        #expect(throws: InfluenceError.self) { try plan.check(limit: plan.peak - 1) }
        do {
            try plan.check(limit: 1000)
            Issue.record("a 1000-byte limit was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.contains("--memory-limit") && message.contains(plan.largestStage!.name), "\(message)")
            #expect(message.contains("--modules") || message.contains("--batch-size"), "\(message)")
        }
        #expect(plan.description.contains("memory plan") && plan.description.contains("covariance pass"))
    }

    @Test func scoringPlansHoldTheQueriesAndTheScoresKept() throws {
        let task = Fixtures.classificationTask(Float.self)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: EKFACStrategy(), labels: .data)).fit()
        let products = 4 * 4 + 3 * 5
        let computer = try ScoreComputer(
            task: task, fitted: factors, configuration: ScoreConfiguration(damping: .value(0.1), perModule: true, selfInfluence: true))
        let plan = computer.memoryPlan()
        // 2 queries, 7 training rows: dense scores with 2 modules, self-influence; joined once at the end.
        #expect(item(plan, "training pass", "preconditioned queries") == 2 * 4 * products)
        #expect(item(plan, "training pass", "scores kept") == 2 * (4 * 2 * 7 * 3 + 4 * 7))
        var top = ScoreConfiguration(damping: .value(0.1))
        top.selection = .top(3)
        let topPlan = try ScoreComputer(task: task, fitted: factors, configuration: top).memoryPlan()
        #expect(item(topPlan, "training pass", "scores kept") == 2 * (2 * 2 * 3 * 16))
    }
}
